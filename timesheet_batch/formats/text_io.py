"""Shared plumbing of the streaming text readers (JSON, NDJSON, fixed width) and of the
byte-level string checks (CSV writer, validation).

* :func:`decoded_blocks` decodes a binary stream block by block with an incremental decoder,
  so memory is one block whatever the file size, and turns a decoding error into an
  :class:`~timesheet_batch.errors.UnreadableFileError` that names the encoding, never the bytes.
* :func:`utf8_blocks` is the same stream as UTF-8 bytes, checked exactly like
  :func:`decoded_blocks` (same errors, same BOM rule), for the vectorised readers that hand
  bytes to pyarrow or numpy: a UTF-8 file is only validated (and not even decoded when a block
  is ASCII), any other encoding is decoded and re-encoded.
* :func:`line_blocks` cuts decoded blocks into lists of lines with their 1-based line numbers;
  :func:`line_chunks` cuts UTF-8 bytes into the same chunks of lines without building a
  Python string per line (:func:`lines_array` makes them one Arrow string array).
* :func:`records_to_table` turns parsed JSON objects into string columns plus
  ``__record_number``.
* :func:`string_buffers` shows a string array's offsets and bytes through numpy, no copy.
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER

#: Bytes read from the stream at a time.
BLOCK_BYTES = 1024 * 1024
#: A longer line (or JSON record) means a broken file; refusing it keeps memory bounded.
MAX_RECORD_CHARS = 16 * 1024 * 1024


def decoded_blocks(stream: BinaryIO, encoding: str, block_bytes: int | None = None) -> Iterator[str]:
    """Text blocks of ``stream``; a leading BOM is dropped; bad bytes -> UnreadableFileError."""
    block_bytes = block_bytes or BLOCK_BYTES  # read at call time, so tests can shrink it
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    first = True
    while True:
        data = stream.read(block_bytes)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise UnreadableFileError(f"the file is not valid {encoding} text") from None
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        if "\x00" in text:
            raise UnreadableFileError("the file holds NUL characters: binary data, not text")
        if text:
            yield text
        if not data:
            return


def line_blocks(
    stream: BinaryIO, encoding: str, max_lines: int
) -> Iterator[tuple[list[str], int]]:
    """(up to ``max_lines`` lines without line ends, number of the first line) blocks."""
    pending, carry, number = [], "", 1
    for text in decoded_blocks(stream, encoding):
        lines = (carry + text).split("\n")
        carry = lines.pop()
        if len(carry) > MAX_RECORD_CHARS:
            raise UnreadableFileError(f"a line after line {number + len(pending)} is over 16 MB")
        pending.extend(lines)
        while len(pending) >= max_lines:
            yield _strip_cr(pending[:max_lines]), number
            pending, number = pending[max_lines:], number + max_lines
    if carry:
        pending.append(carry)
    if pending:
        yield _strip_cr(pending), number


def utf8_blocks(stream: BinaryIO, encoding: str) -> Iterator[bytes]:
    """The text of ``stream`` as UTF-8 byte blocks, with the errors and BOM rule of :func:`decoded_blocks`."""
    if codecs.lookup(encoding).name != "utf-8":
        for text in decoded_blocks(stream, encoding):
            yield text.encode("utf-8")  # a strict decode leaves no lone surrogate: cannot fail
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    head = b""  # the first bytes, held until the BOM can be recognised
    while True:
        raw = stream.read(BLOCK_BYTES)
        # An ASCII block is valid UTF-8 unless it must finish a character the last block began.
        if not raw or not raw.isascii() or decoder.getstate()[0]:
            try:
                decoder.decode(raw, final=not raw)
            except UnicodeDecodeError:
                raise UnreadableFileError(f"the file is not valid {encoding} text") from None
        data = raw
        if head is not None:
            head += raw
            if len(head) < 3 and raw:
                continue
            data, head = head.removeprefix(codecs.BOM_UTF8), None
        if b"\x00" in data:
            raise UnreadableFileError("the file holds NUL characters: binary data, not text")
        if data:
            yield data
        if not raw:
            return


class LineChunk(NamedTuple):
    """Whole lines of UTF-8 text: ``data`` holds them, each ending with ``\\n``."""

    data: bytes
    #: Position in ``data`` of the line feed that ends each line.
    ends: np.ndarray
    #: 1-based number of the first line in the file.
    first_number: int

    def lines(self) -> list[str]:
        """The lines as strings without line ends (exactly what :func:`line_blocks` yields)."""
        return _strip_cr(self.data.decode("utf-8").split("\n")[:-1])


def line_chunks(stream: BinaryIO, encoding: str, max_lines: int) -> Iterator[LineChunk]:
    """The lines of :func:`line_blocks`, ``max_lines`` at a time, as UTF-8 bytes.

    Lines are found with ``bytes.count`` and numpy over whole blocks, never one Python object
    per line; a final line without a line end gets one.
    """
    pieces: list[bytes] = []  # bytes since the last chunk: ``lines`` whole lines + ``tail``
    lines = tail = 0
    number = 1
    for block in utf8_blocks(stream, encoding):
        pieces.append(block)
        found = block.count(b"\n")
        lines += found
        tail = len(block) - block.rfind(b"\n") - 1 if found else tail + len(block)
        if tail > MAX_RECORD_CHARS and _chars(pieces, tail) > MAX_RECORD_CHARS:
            raise UnreadableFileError(f"a line after line {number + lines} is over 16 MB")
        if lines >= max_lines:
            data = b"".join(pieces)
            ends = _line_ends(data)
            start = 0
            while len(ends) - start >= max_lines:
                stop = ends[start + max_lines - 1] + 1
                first = ends[start - 1] + 1 if start else 0
                yield LineChunk(data[first:stop], ends[start : start + max_lines] - first, number)
                start, number = start + max_lines, number + max_lines
            rest = data[ends[start - 1] + 1 :] if start else data
            pieces, lines = [rest], len(ends) - start
    if tail:
        pieces.append(b"\n")
    data = b"".join(pieces)
    if data:
        ends = _line_ends(data)
        for start in range(0, len(ends), max_lines):
            first = ends[start - 1] + 1 if start else 0
            part = ends[start : start + max_lines]
            yield LineChunk(data[first : part[-1] + 1], part - first, number + start)


def _line_ends(data: bytes) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(data, np.uint8) == 10)


def _chars(pieces: list[bytes], tail: int) -> int:
    """Characters in the last ``tail`` bytes (a UTF-8 byte count overstates a line's length)."""
    data = b"".join(pieces)[-tail:]
    return len(data.decode("utf-8", errors="ignore"))


def lines_array(chunk: LineChunk) -> pa.StringArray:
    """The chunk's lines as one string array, without ``\\n`` and one ``\\r`` before it."""
    raw = np.frombuffer(chunk.data, np.uint8)
    ends = chunk.ends
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    cr = ends > starts
    cr[cr] = raw[ends[cr] - 1] == 13
    lengths = ends - starts - cr
    keep = np.ones(len(raw), dtype=bool)
    keep[ends] = False
    keep[ends[cr] - 1] = False
    small = len(raw) < 2**31  # 32-bit offsets, the ``string`` type every reader yields
    offsets = np.zeros(len(ends) + 1, dtype=np.int32 if small else np.int64)
    np.cumsum(lengths, out=offsets[1:])
    kind = pa.StringArray if small else pa.LargeStringArray
    # No copy of the text into Python strings; the bytes were validated as UTF-8 on reading.
    return kind.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(raw[keep]))


def _strip_cr(lines: list[str]) -> list[str]:
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def as_text(value: object) -> str | None:
    """A JSON value as the string a reader yields (numbers were kept as their text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    # Nested objects and arrays are kept as compact JSON; validation will reject them.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def records_to_table(records: list[dict], known: dict[str, None], numbers: np.ndarray) -> pa.Table:
    """String columns for ``records`` (keys in first-seen order, ``known`` is updated)."""
    # Iterating a dict yields its keys: the union in first-seen order, in one C-level pass.
    known.update(dict.fromkeys(itertools.chain.from_iterable(records)))
    arrays = []
    try:
        for name in known:
            values = [record.get(name) for record in records]
            try:
                arrays.append(pa.array(values, pa.string()))
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                arrays.append(pa.array([as_text(v) for v in values], pa.string()))
        arrays.append(pa.array(numbers, pa.int64()))
        return pa.Table.from_arrays(arrays, names=[*known, RECORD_NUMBER])
    except UnicodeEncodeError:
        # Found by fuzzing (issue #12): JSON's decoder accepts an escaped lone surrogate
        # ({"ID": "\ud800"}, e.g. an emoji cut in half), which no UTF-8 string can hold: it was
        # a UnicodeEncodeError, an "internal error". Refused like any text that is not Unicode.
        raise UnreadableFileError(
            f"record number {_lone_surrogate_at(records, numbers)} holds a lone surrogate escape "
            "(\\ud800-\\udfff): not valid Unicode"
        ) from None


def _lone_surrogate_at(records: list[dict], numbers: np.ndarray) -> int:
    """The record number of the first record that cannot be UTF-8 (only looked for on error)."""
    for record, number in zip(records, numbers, strict=True):
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return int(number)
    return int(numbers[0])


#: Keeps number text as written (``8.50`` stays ``8.50``), never a float.
JSON_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


def string_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array, no copy: value i is ``data[offsets[i]:offsets[i + 1]]``."""
    _, offsets, data = column.buffers()
    if offsets is None:  # only for an empty array
        return np.zeros(1, np.int32), np.zeros(0, np.uint8)
    offsets = np.frombuffer(offsets, np.int32, len(column) + 1, column.offset * 4)
    return offsets, (np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8))
