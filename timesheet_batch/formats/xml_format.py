"""XML: a secure streaming reader over ``lxml.etree.iterparse`` and a streamed writer.

Reader
    Parser options, all passed explicitly (lxml before 6.1 resolved external entities in
    ``iterparse`` by default, CVE-2026-41066)::

        resolve_entities=False  # never expand an entity: no XXE, no billion laughs
        no_network=True         # never fetch anything over the network
        load_dtd=False          # never load an external DTD
        huge_tree=False         # keep libxml2's limits on depth, text size, amplification

    On top of that a document whose DTD declares any entity is refused outright with
    UnreadableFileError (nothing legitimate needs one, and refusing is easier to reason about
    than half-expanded values); a plain ``<!DOCTYPE x>`` is fine. Entity references left
    unexpanded are never turned into text.

    Records are the elements at ``record_path`` (e.g. ``timesheets/entry``: ``<entry>``
    children of the root ``<timesheets>``), matched on local names, so any namespace (or none)
    is accepted. A record's fields are its attributes and child elements (local names, the
    the last occurrence wins), each with its text
    (nested markup inside a field is flattened to its text). Every record is cleared, and its already
    processed siblings deleted, as soon as it is read, so memory holds one chunk of values
    whatever the file size. The encoding comes from the XML declaration (UTF-8 without one,
    as XML says); ``options.encoding`` is not used for reading.

    Truncated or malformed XML, binary junk and bytes invalid in the declared encoding raise
    UnreadableFileError with the line number and a fixed description: libxml2's own messages
    can quote the offending bytes, so they are never passed on. An empty file is zero records,
    and so is a root without records.

    ``__record_number`` is the 1-based index of the record in the document (not a line).

    Fast path: a document of the common simple shape (a plain ``<?xml?>`` prolog in UTF-8,
    ``<root>`` without attributes, records of text-only fields; see
    :mod:`~timesheet_batch.formats.xml_scan`) is checked by libxml2 without building a tree
    and its records cut out of the bytes into Arrow columns. At the first thing it cannot
    prove simple it hands the rest of the document, from the last record boundary, to the
    iterparse reading above, which then gives the same values, errors and line numbers.

Writer
    ``record_path`` ``"timesheets/entry"`` gives a root ``<timesheets>`` holding one
    ``<entry>`` per record, with one child element per column (a null cell is left out).
    Deeper paths nest the outer parts (``a/b/entry``). Escaping is lxml's; control characters
    XML 1.0 forbids are replaced by a space so one bad cell cannot abort the export, and
    characters the encoding lacks become character references. Streamed with
    ``lxml.etree.xmlfile``.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from contextlib import ExitStack
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from lxml import etree

from timesheet_batch.errors import ConfigurationError, UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER, WriterSession, WriteTarget, strip_control_chars
from timesheet_batch.formats.xml_scan import Columns, Joined, Scanner
from timesheet_batch.vendors.profile import FormatOptions

#: The parser options of every XML read (see the module docstring); never change lightly.
SECURE_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}


def _check_names(names: list[str]) -> None:
    for name in names:
        try:
            etree.Element(name)
        except ValueError:
            raise ConfigurationError(f"{name!r} is not a valid XML element name") from None


class _XmlSession(WriterSession):
    def _open(self) -> None:
        path_parts = (self.options.record_path or "records/record").strip("/").split("/")
        if len(path_parts) < 2:
            raise ConfigurationError("xml record_path needs a root and a record element")
        _check_names(path_parts + self.columns)
        self._record_tag = path_parts[-1]
        self._stack = ExitStack()
        self._xf = self._stack.enter_context(
            # libxml2 knows Python's canonical codec names ("iso8859-1"), not every alias.
            etree.xmlfile(self.stream if self.stream is not None else str(self.path),
                          encoding=codecs.lookup(self.options.encoding).name)
        )
        self._xf.write_declaration()
        for tag in path_parts[:-1]:
            self._stack.enter_context(self._xf.element(tag))

    def _write_table(self, table: pa.Table) -> None:
        columns = [strip_control_chars(column).to_pylist() for column in table.columns]
        names = self.columns
        element, sub = etree.Element, etree.SubElement
        for values in zip(*columns, strict=True):
            record = element(self._record_tag)
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    sub(record, name).text = value
            self._xf.write(record)

    def _release(self) -> None:
        # Closing the stack writes the closing tags and closes the file.
        self._stack.close()


class XmlWriter:
    """Writes ``<root><record><FIELD>value</FIELD>...</record>...</root>``."""

    name = "xml"
    extension = ".xml"

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path`` (the root element opens now, closes on close)."""
        return _XmlSession(path, options, columns)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _record_parts(options: FormatOptions) -> list[str]:
    parts = (options.record_path or "").strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        raise ConfigurationError("xml record_path needs a root and a record element")
    return [_local(part) for part in parts]


def _text(element: etree._Element) -> str | None:
    """The element's text and its descendants' text; entity references are left out."""
    if len(element) == 0:
        return element.text
    pieces = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):  # an element; entities, comments and PIs are skipped
            pieces.append(_text(child) or "")
        pieces.append(child.tail or "")
    return "".join(pieces)


class _FieldNames:
    """Local names of tags, cached: a file repeats a handful of tags millions of times."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def fields(self, record: etree._Element) -> dict[str, str | None]:
        """A record's attributes and children as local name -> text (the last one wins)."""
        names = self._names
        try:
            # Fast path: only known element children without children of their own.
            fields = {names[child.tag]: child.text for child in record if not len(child)}
            if len(fields) != len(record):
                raise KeyError  # a nested element, a repeated field, a comment: slow path
        except (KeyError, TypeError):
            fields = self._slow_fields(record)
        if record.attrib:
            fields = {**{_local(k): v for k, v in record.attrib.items()}, **fields}
        return fields

    def _slow_fields(self, record: etree._Element) -> dict[str, str | None]:
        fields: dict[str, str | None] = {}
        for child in record:
            if isinstance(child.tag, str):  # an element; entities, comments and PIs are skipped
                name = self._names.setdefault(child.tag, _local(child.tag))
                fields[name] = _text(child)
        return fields


def _at_path(record: etree._Element, parts: list[str]) -> bool:
    """Whether ``record`` sits exactly at ``parts`` (its local name is already checked)."""
    node = record
    for part in reversed(parts[:-1]):
        node = node.getparent()
        if node is None or _local(node.tag) != part:
            return False
    return node.getparent() is None


def _refuse_entities(element: etree._Element) -> None:
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and next(iter(dtd.iterentities()), None) is not None:
        raise UnreadableFileError("the XML declares entities in a DTD: refused (XXE / entity expansion)")


def _describe(exc: etree.XMLSyntaxError) -> str:
    """A fixed description plus the line; libxml2's message may quote bytes of the file."""
    message, line = str(exc.msg or ""), exc.lineno
    if "encoding" in message.lower() or "UTF-8" in message or "char" in message.lower():
        what = "the XML is not valid text in its declared encoding"
    elif "Premature end" in message or "EndTag" in message or "end of data" in message.lower():
        what = "the XML is truncated"
    elif "amplification" in message or "entit" in message.lower():
        what = "the XML uses entities: refused (XXE / entity expansion)"
    else:
        what = "the file is not well-formed XML"
    return f"{what} (line {line})" if line else what


class XmlReader:
    """Secure streaming XML reader (see the module docstring)."""

    name = "xml"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` records plus ``__record_number``."""
        parts = _record_parts(options)
        first = stream.read(64 * 1024)
        while first and not first.strip():
            # White space before the root element is legal XML: skip it a block at a time (an
            # empty file, or one of white space only, holds no records; never read it whole).
            first = stream.read(64 * 1024)
        if not first:
            return
        rows = _Rows()
        source: BinaryIO | Joined = Joined(first, stream)
        scanner = Scanner.start(first, stream, parts, SECURE_PARSER_OPTIONS)
        if scanner is not None:
            for batch in scanner.batches():
                if isinstance(batch, Columns):
                    rows.add_columns(batch)
                else:
                    for record in batch:
                        rows.add(record)
                yield from rows.tables(chunk_size)
            if scanner.done:
                yield from rows.tables(chunk_size, final=True)
                return
            source = scanner.handover()
        try:
            for record in self._records(source, parts):
                rows.add(record)
                if rows.rows == chunk_size:
                    yield from rows.tables(chunk_size)
        except etree.XMLSyntaxError as exc:
            raise UnreadableFileError(_describe(exc)) from None
        yield from rows.tables(chunk_size, final=True)

    def _records(self, source: BinaryIO | Joined, parts: list[str]) -> Iterator[dict]:
        context = etree.iterparse(
            source, events=("end",), tag=f"{{*}}{parts[-1]}", **SECURE_PARSER_OPTIONS
        )
        checked, names = False, _FieldNames()
        for _event, element in context:
            if not checked:
                _refuse_entities(element)
                checked = True
            if _at_path(element, parts):
                yield names.fields(element)
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
        root = context.root
        if root is not None:
            _refuse_entities(root)
            if _local(root.tag) != parts[0]:
                raise UnreadableFileError(f"the root element is not <{parts[0]}> of record_path")


class _Rows:
    """Records read and not yet handed out, as columns (what :func:`records_to_table` makes).

    Columns are the field names in the order first seen; a chunk has those seen up to its last
    record. Records come one by one (field dicts, kept in lists) or as Arrow columns.
    """

    def __init__(self) -> None:
        #: Name -> number of the record that brought it, in first-seen order.
        self._first_seen: dict[str, int] = {}
        self._arrays: dict[str, list[pa.Array]] = {}  # the first ``_in_arrays`` rows
        self._lists: dict[str, list[str | None]] = {}  # the rows after them
        self._in_arrays = 0
        self.rows = 0  # records held
        self._count = 0  # records read in all

    def add(self, fields: dict[str, str | None]) -> None:
        """One record."""
        self._count += 1
        lists = self._lists
        for name in fields:
            if name not in lists:
                self._new(name, self._count)
        for name, values in lists.items():
            values.append(fields.get(name))
        self.rows += 1

    def _new(self, name: str, number: int) -> None:
        self._first_seen[name] = number
        self._arrays[name] = [pa.nulls(self._in_arrays, pa.string())]
        self._lists[name] = [None] * (self.rows - self._in_arrays)

    def _to_arrays(self) -> None:
        if self.rows == self._in_arrays:
            return
        for name, values in self._lists.items():
            self._arrays[name].append(pa.array(values, pa.string()))
            values.clear()
        self._in_arrays = self.rows

    def add_columns(self, columns: Columns) -> None:
        """Records read as columns."""
        self._to_arrays()
        for name, first in zip(columns.names, columns.first, strict=True):
            if name not in self._first_seen:
                self._new(name, self._count + first + 1)
        given = dict(zip(columns.names, columns.arrays, strict=True))
        for name, arrays in self._arrays.items():
            arrays.append(given[name] if name in given else pa.nulls(columns.count, pa.string()))
        self._count += columns.count
        self.rows += columns.count
        self._in_arrays = self.rows

    def tables(self, chunk_size: int, final: bool = False) -> Iterator[pa.Table]:
        """The full chunks held (and, if ``final``, the rest)."""
        while self.rows >= chunk_size or (final and self.rows):
            self._to_arrays()
            size = min(self.rows, chunk_size)
            last_number = self._count - self.rows + size
            names = [name for name, first in self._first_seen.items() if first <= last_number]
            columns = {name: pa.chunked_array(arrays, pa.string()) for name, arrays in self._arrays.items()}
            arrays = [columns[name].slice(0, size).combine_chunks() for name in names]
            arrays.append(pa.array(np.arange(last_number - size + 1, last_number + 1, dtype=np.int64)))
            for name, column in columns.items():
                self._arrays[name] = column.slice(size).chunks
            self.rows -= size
            self._in_arrays = self.rows
            yield pa.Table.from_arrays(arrays, names=[*names, RECORD_NUMBER])
