"""The fast path of the XML reader: records of a provably simple shape cut out of the bytes.

Most vendor files are ``<root><rec><F>text</F><G/>...</rec>...</root>``: no DTD, no
attributes, no namespaces, no comments, no nesting inside a field. For those, :class:`Scanner`
reads the records straight from 1 MB blocks instead of building an lxml tree, and libxml2
still checks every byte first: each block is fed, with the reader's secure options, to a
parser that builds nothing (:class:`_NoTree`). A region of whole records is read only after
libxml2 accepted it (well-formed: end tags match, characters are valid UTF-8, every ``&``
starts a reference it knows; a push parser takes everything up to the last complete tag).

* :func:`_columns` proves the shape with numpy over the tag positions (see there) and builds
  Arrow string columns from byte offsets, never a Python object per value;
* otherwise, if the whole region matches :attr:`_Patterns.region` (fields in any order or
  repeated, references, CRs), the records are field dicts read with regular expressions:
  references decoded as libxml2 does, literal CR and CR LF made LF first (XML's end-of-line
  handling; a ``&#13;`` stays a CR), the last of a repeated field winning.

Either way a field's value is its text, None when empty (no text node, as lxml's ``.text``)
or missing, exactly what the slow path gives for that shape.

Anything else (a prolog with a DTD, a comment, a BOM or another encoding; attributes; a
namespace prefix; a field named like the record; a comment, CDATA, PI or element inside a
field; a region libxml2 refuses; ...) hands over, at the last record boundary read, to the
slow path: :meth:`Scanner.handover` gives a stream that starts with a bare root start tag, then
as many line feeds as the bytes already read held (libxml2 counts lines by LF only), then the
unread bytes. At a record boundary of such a document the parser is in the root's content with
no namespace or entity in scope, so the slow path reads the rest, its errors and their line
numbers included, as it would have read it in the whole document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa
from lxml import etree

#: Longest region of unread bytes the scanner holds; beyond that the slow path takes over.
MAX_PENDING = 8 * 1024 * 1024

_NAME = rb"[A-Za-z_][A-Za-z0-9_.\-]*"
_WS = rb"[ \t\r\n]*"
_PROLOG = re.compile(
    rb"(?:<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:\"1\.0\"|'1\.0')"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:\"[uU][tT][fF]-8\"|'[uU][tT][fF]-8'))?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:\"(?:yes|no)\"|'(?:yes|no)'))?"
    rb"[ \t\r\n]*\?>)?" + _WS + rb"<(" + _NAME + rb")>"
)
_REFERENCE = re.compile(r"&(?:(amp)|(lt)|(gt)|(quot)|(apos)|#x([0-9A-Fa-f]+)|#([0-9]+));")
_PREDEFINED = ("&", "<", ">", '"', "'")
_LT, _GT, _SLASH = ord("<"), ord(">"), ord("/")


class _NoTree:
    """A parser target that keeps nothing: libxml2 only checks the document."""

    def close(self) -> None:
        return None


def _decode_reference(match: re.Match) -> str:
    for group in range(1, 6):
        if match.group(group):
            return _PREDEFINED[group - 1]
    if match.group(6):
        return chr(int(match.group(6), 16))
    return chr(int(match.group(7)))


def _text(raw: str) -> str | None:
    """A field's text as libxml2 gives it (``raw`` has no CR left); None when empty."""
    if not raw:
        return None
    if "&" in raw:
        return _REFERENCE.sub(_decode_reference, raw)
    return raw


class _Patterns:
    """The expressions of one record name."""

    def __init__(self, record: bytes):
        name = rb"(?!" + re.escape(record) + rb"[/>])" + _NAME  # a field named like the record is nesting
        field = rb"<(?P<n>" + name + rb")(?:/>|>[^<]*</(?P=n)>)"
        #: Whole records of the simple shape, with white space around them.
        self.region = re.compile(
            rb"(?:" + _WS + rb"<" + re.escape(record) + rb">(?:" + _WS + field + rb")*" + _WS
            + rb"</" + re.escape(record) + rb">)*" + _WS
        )
        self.fields = re.compile("<(" + name.decode() + ")(?:/>|>([^<]*)</\\1>)")
        self.start = "<" + record.decode() + ">"
        self.end = "</" + record.decode() + ">"
        self.end_bytes = b"</" + record + b">"


class Columns(NamedTuple):
    """Records read as Arrow columns: field names in first-seen order, with the (0-based)
    record that brought each; a field empty or missing in a record is null."""

    names: list[str]
    first: list[int]
    arrays: list[pa.Array]
    count: int


#: A block of records: :class:`Columns`, or the records as field dicts.
Batch = Columns | list[dict[str, str | None]]

#: Longest field name :func:`_columns` tells apart exactly (by its bytes, zero-padded).
_NAME_BYTES = 16
#: Most different names in a region :func:`_columns` reads (one pass over the tags per name).
_MAX_NAMES = 64
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_NAME_RE = re.compile(_NAME)


def _columns(region: bytes, record: bytes) -> Columns | None:
    """The records of ``region`` as columns if it has the simple shape; None if not proven.

    ``region`` starts at a record boundary and ends with a record's end tag; libxml2 has
    accepted it (well-formed, so end tags match their start tags). It is read here if:

    * every ``<`` opens a tag ``<name>``, ``</name>`` or ``<name/>`` that the next ``>`` ends,
      the name made of ``[A-Za-z0-9_.-]`` and not starting with a digit, dot or hyphen: no
      comment, PI, CDATA, attribute, namespace prefix or space inside a tag;
    * tags outside any record are record start tags, tags directly in a record are fields
      (not named like the record), and no element sits in a field: a field holds only text;
    * there is no ``&`` (a reference to decode) nor CR (end-of-line handling) anywhere, no
      field occurs twice in a record, and names fit :data:`_NAME_BYTES`.

    Text outside fields is ignored, as the slow path ignores it. A field's value is the bytes
    between its tags: the text libxml2 gives, already checked as UTF-8; none is null.
    """
    if b"&" in region or b"\r" in region:
        return None
    x = np.frombuffer(region, np.uint8)
    lt = np.flatnonzero(x == _LT)
    gt = np.flatnonzero(x == _GT)
    if not len(lt):
        return None
    if len(gt) == len(lt) and np.all(gt > lt) and np.all(gt[:-1] < lt[1:]):
        end = gt  # no ">" in the text: each one ends the tag before it
    else:
        end = gt[np.searchsorted(gt, lt)]
        if np.any(end[:-1] > lt[1:]):
            return None  # a "<" inside a tag
    closing = x[lt + 1] == _SLASH
    empty = x[end - 1] == _SLASH
    start = lt + 1 + closing
    length = end - empty - start
    if np.any(closing & empty) or int(length.min()) < 1:
        return None
    delta = 1 - 2 * closing.astype(np.int64) - empty
    depth_after = np.cumsum(delta)
    depth = depth_after - delta  # before each tag: opening tags only are checked below
    if int(depth_after.min()) < 0 or int(depth_after[-1]) != 0 or closing.all() or int(depth[~closing].max()) > 1:
        return None
    # Each tag's name as two little-endian 8-byte words, zero-padded: equal words, equal names.
    padded = np.zeros(len(x) + _NAME_BYTES, np.uint8)
    padded[: len(x)] = x
    words = np.ndarray((len(x) + 9,), dtype="<u8", buffer=padded, strides=(1,))
    low = words[start] & _MASKS[np.minimum(length, 8)]
    high = words[start + 8] & _MASKS[np.clip(length - 8, 0, 8)]
    tag_name = np.full(len(lt), -1, np.int64)
    names: list[str] = []
    while True:
        todo = np.flatnonzero(tag_name < 0)
        if not len(todo):
            break
        first = todo[0]
        tag_name[(low == low[first]) & (high == high[first])] = len(names)
        # The words hold the whole tag after "<" or "</" (zeros after it; libxml2 refuses a NUL
        # in a document), so tags with equal words are equal: checking one checks them all.
        name = region[start[first] : start[first] + length[first]]
        if len(names) == _MAX_NAMES or not _NAME_RE.fullmatch(name):
            return None  # an attribute, a prefix, a comment, a PI, CDATA, a space...
        names.append(name.decode("ascii"))
    record_name = record.decode("ascii")
    if record_name not in names:
        return None
    is_record = tag_name == names.index(record_name)
    opening = ~closing
    if np.any(opening & (is_record != (depth == 0))) or np.any(is_record & empty):
        return None  # an element beside the records, a nested record or an empty one
    record_of = np.cumsum(is_record & ~closing) - 1
    count = int(record_of[-1]) + 1
    tags = np.flatnonzero(~is_record & ~closing)  # field start tags and empty-element tags
    field_record, field_name = record_of[tags], tag_name[tags]
    value_start = end[tags] + 1
    value_length = np.where(empty[tags], 0, lt[np.minimum(tags + 1, len(lt) - 1)] - value_start)
    found: list[tuple[int, str, int, pa.Array]] = []  # (first tag, name, first record, values)
    for name_id, name in enumerate(names):
        chosen = np.flatnonzero(field_name == name_id)
        if not len(chosen):
            continue
        records = field_record[chosen]
        if len(records) > 1 and bool(np.any(records[1:] == records[:-1])):
            return None  # a field repeated in a record: the last one wins, read per record
        starts = np.zeros(count, np.int64)
        lengths = np.zeros(count, np.int64)
        starts[records] = value_start[chosen]
        lengths[records] = value_length[chosen]
        found.append((int(chosen[0]), name, int(records[0]), _string_array(x, starts, lengths)))
    found.sort(key=lambda item: item[0])
    return Columns([f[1] for f in found], [f[2] for f in found], [f[3] for f in found], count)


def _string_array(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Strings ``x[start:start + length]``; a zero length is null (an empty or missing field)."""
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    gather = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
    data = x[gather]
    valid = lengths > 0
    kind = pa.StringArray if total < 2**31 else pa.LargeStringArray
    offset_type = np.int32 if total < 2**31 else np.int64
    array = kind.from_buffers(
        len(starts),
        pa.py_buffer(offsets.astype(offset_type)),
        pa.py_buffer(data),
        pa.py_buffer(np.packbits(valid, bitorder="little")),
        int(len(valid) - valid.sum()),
    )
    return array if kind is pa.StringArray else array.cast(pa.string())


class Scanner:
    """Reads the records of a simple document; stops at anything else (see the module docstring).

    :meth:`batches` yields one :data:`Batch` per block read. When it stops, :attr:`done` tells
    whether the document was read to its end; if not, :meth:`handover` is the rest for the slow
    path.
    """

    def __init__(self, first: bytes, stream: BinaryIO, root: bytes, record: bytes, start: int,
                 parser_options: dict):
        self._stream = stream
        self._root = root
        self._record = record
        self._patterns = _Patterns(record)
        self._parser = etree.XMLParser(target=_NoTree(), **parser_options)
        self._first = first
        self._data = first[start:]  # unread bytes, from a record boundary on
        self._lines = first.count(b"\n", 0, start)  # line feeds before ``_data``
        self.done = False

    @classmethod
    def start(cls, first: bytes, stream: BinaryIO, parts: list[str], parser_options: dict) -> Scanner | None:
        """A scanner if the document starts as one it can read (``<?xml ...?><root>``), else None."""
        if len(parts) != 2 or parts[0] == parts[1]:
            return None
        match = _PROLOG.match(first)
        record = parts[1].encode()
        if match is None or match.group(1) != parts[0].encode() or not re.fullmatch(_NAME, record):
            return None
        return cls(first, stream, match.group(1), record, match.end(), parser_options)

    def _accepted(self, data: bytes) -> bool:
        """Feed ``data`` to libxml2; False if it refuses it (the slow path will say why)."""
        try:
            self._parser.feed(data)
        except etree.XMLSyntaxError:
            return False
        return True

    def batches(self) -> Iterator[Batch]:
        """The records block by block, until the end of the document or trouble."""
        first, self._first = self._first, b""
        if not self._accepted(first):
            return
        patterns = self._patterns
        while True:
            block = self._stream.read(1024 * 1024)
            if block:
                self._data += block  # the slow path must have it whatever libxml2 says
                if not self._accepted(block):
                    return
            cut = self._data.rfind(patterns.end_bytes)
            if cut >= 0:
                cut += len(patterns.end_bytes)
                region = self._data[:cut]
                batch = self._read(region)
                if batch is None:
                    return
                yield batch
                self._lines += region.count(b"\n")
                self._data = self._data[cut:]
            if not block:
                self._finish()
                return
            if len(self._data) > MAX_PENDING:
                return

    def _finish(self) -> None:
        try:
            self._parser.close()
        except etree.XMLSyntaxError:
            return
        end = _WS + rb"</" + re.escape(self._root) + rb">" + _WS
        self.done = re.fullmatch(end, self._data) is not None

    def _read(self, region: bytes) -> Batch | None:
        """The records of ``region``; None if its shape is not one read here."""
        columns = _columns(region, self._record)
        if columns is not None:
            return columns
        patterns = self._patterns
        if patterns.region.fullmatch(region) is None:
            return None
        text = region.decode("utf-8")  # libxml2 has checked it is UTF-8
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        find = patterns.fields.findall
        return [{name: _text(value) for name, value in find(record)} for record in text.split(patterns.end)[:-1]]

    def handover(self) -> BinaryIO:
        """The rest of the document for the slow path (see the module docstring)."""
        head = b"<" + self._root + b">" + b"\n" * self._lines
        return Joined(head + self._data, self._stream)


class Joined:
    """``first`` then the rest of ``rest`` (for lxml's ``read``): peeked bytes put back, or a handover."""

    def __init__(self, first: bytes, rest: BinaryIO):
        self._first, self._rest = first, rest

    def read(self, size: int = -1) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        return self._rest.read(size if size and size > 0 else 1024 * 1024)
