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
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from lxml import etree

from timesheet_batch.errors import ConfigurationError, UnreadableFileError
from timesheet_batch.formats.base import WriterSession, strip_control_chars
from timesheet_batch.formats.text_io import records_to_table
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
            etree.xmlfile(str(self.path), encoding=codecs.lookup(self.options.encoding).name)
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

    def open(self, path: Path, options: FormatOptions, columns: list[str]) -> WriterSession:
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


class _Peeked:
    """The first block again, then the rest of the stream (for lxml's ``read``)."""

    def __init__(self, first: bytes, rest: BinaryIO):
        self._first, self._rest = first, rest

    def read(self, size: int = -1) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        return self._rest.read(size if size and size > 0 else 1024 * 1024)


class XmlReader:
    """Secure streaming XML reader (see the module docstring)."""

    name = "xml"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` records plus ``__record_number``."""
        parts = _record_parts(options)
        first = stream.read(64 * 1024)
        if not first.strip():
            return  # an empty file holds no records
        known: dict[str, None] = {}
        records: list[dict] = []
        count = 0
        try:
            for record in self._records(_Peeked(first, stream), parts):
                records.append(record)
                count += 1
                if len(records) == chunk_size:
                    yield _table(records, known, count)
                    records = []
        except etree.XMLSyntaxError as exc:
            raise UnreadableFileError(_describe(exc)) from None
        if records:
            yield _table(records, known, count)

    def _records(self, source: _Peeked, parts: list[str]) -> Iterator[dict]:
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


def _table(records: list[dict], known: dict[str, None], last_number: int) -> pa.Table:
    first = last_number - len(records) + 1
    return records_to_table(records, known, np.arange(first, last_number + 1, dtype=np.int64))
