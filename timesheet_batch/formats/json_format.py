"""JSON: a streaming reader and writer of one array of flat objects.

Reader
    The file is read as UTF-8 bytes block by block (1 MB; a UTF-8 file is only validated,
    another ``options.encoding`` is transcoded), so memory holds one chunk of records, never
    the whole array. :class:`~timesheet_batch.formats.json_array.ArraySplitter` finds the
    elements with numpy and hands ``chunk_size`` of them at a time to ``pyarrow.json``
    (:mod:`~timesheet_batch.formats.arrow_json`), which parses them in C++ when it can give
    exactly what Python's ``json`` gives. Otherwise (numbers with a fraction, nested values,
    duplicate keys, something that is not an array of objects, a syntax error, ...) the rest
    of the file from that batch on is read as before: a small incremental scanner hands each
    element to the C-accelerated ``json.JSONDecoder.raw_decode``. Either way, numbers keep
    their text (``8.50`` stays ``8.50``), ``true`` / ``false`` become those words, ``null`` or
    a missing key an absent value, and a nested value its compact JSON (which validation then
    rejects). Columns are the keys in the order first seen. An element that is not an object,
    a record over 16 MB, text after the closing ``]``, or a truncated array raise
    UnreadableFileError (the message names the record position and the JSON error, never
    data). An empty file or ``[]`` is zero records.

    ``__record_number`` is the 1-based position of the object in the array (not a line: a
    pretty-printed record spans many).

Writer
    Each record becomes ``{"FIELD": "value", ...}`` with the columns in the order given; a
    null cell is written as ``null``. Non-ASCII text is written as is, in the file's encoding.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import arrow_json
from timesheet_batch.formats.arrow_json import align_columns, parse_objects
from timesheet_batch.formats.base import WriterSession, WriteTarget
from timesheet_batch.formats.json_array import ArraySplitter
from timesheet_batch.formats.text_io import (
    JSON_DECODER,
    MAX_RECORD_CHARS,
    records_to_table,
    utf8_blocks,
)
from timesheet_batch.vendors.profile import FormatOptions

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A decode error this close to the end of the buffer may just mean "read more".
_NEAR_END = 64


class _ArrayScanner:
    """Yields the objects of one top-level JSON array from text blocks."""

    def __init__(self, blocks: Iterator[str]):
        self._blocks = blocks
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.count = 0

    def _fill(self) -> bool:
        """Append the next block; False at the end of the file."""
        if self._eof:
            return False
        block = next(self._blocks, None)
        if block is None:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + block
        self._pos = 0
        return True

    def _peek(self) -> str:
        """The next non-blank character ('' at the end of the file), not consumed."""
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _decode(self) -> object:
        while True:
            try:
                value, self._pos = JSON_DECODER.raw_decode(self._buf, self._pos)
                return value
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(self._buf) - _NEAR_END or exc.msg.startswith("Unterminated")
                if len(self._buf) - self._pos > MAX_RECORD_CHARS:
                    raise UnreadableFileError(f"record {self.count + 1} is over 16 MB") from None
                if not (incomplete and self._fill()):
                    raise UnreadableFileError(
                        f"the file is not valid JSON at record {self.count + 1}: {exc.msg}"
                    ) from None

    def objects(self, resume: bool = False) -> Iterator[dict]:
        """Every element of the array, in order; checks the shape around them.

        ``resume``: the text starts after element :attr:`count`, at the comma that follows it.
        """
        if not resume:
            first = self._peek()
            if first == "":
                return  # an empty file holds no records
            if first != "[":
                raise UnreadableFileError("the file is not a JSON array of objects")
            self._pos += 1
        while True:
            char = self._peek()
            if char == "":
                raise UnreadableFileError(f"the JSON array is truncated after record {self.count}")
            if char == "]" and self.count == 0:
                break
            if self.count:
                if char == "]":
                    break
                if char != ",":
                    raise UnreadableFileError(self._broken())
                self._pos += 1
                self._peek()
            value = self._decode()
            self.count += 1
            if not isinstance(value, dict):
                raise UnreadableFileError(f"element {self.count} of the array is not an object")
            yield value
        self._pos += 1
        if self._peek() != "":
            raise UnreadableFileError("the file holds data after the end of the JSON array")

    def _broken(self) -> str:
        return f"the file is not valid JSON after record {self.count}: expected ',' or ']'"


class JsonReader:
    """Streaming reader of a JSON array of flat objects (see the module docstring)."""

    name = "json"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` records plus ``__record_number``."""
        splitter = ArraySplitter(utf8_blocks(stream, options.encoding), MAX_RECORD_CHARS)
        known: dict[str, None] = {}
        strings: set[str] = set()
        refused = False
        for batch in splitter.batches(chunk_size):
            if batch.count < arrow_json.MIN_OBJECTS:
                refused = True  # a small file (or chunk size): Python is faster
                break
            table = parse_objects(batch.data, strings)
            if table is None or table.num_rows != batch.count:
                refused = True  # Python parses this batch and the rest of the file
                break
            numbers = np.arange(splitter.count - batch.count + 1, splitter.count + 1, dtype=np.int64)
            yield align_columns(table, known, numbers)
        if splitter.done and not refused:
            return
        blocks, count = splitter.handover(refused)
        yield from _python_chunks(_decoded(blocks), count, known, chunk_size)


def _python_chunks(blocks: Iterator[str], count: int, known: dict[str, None], chunk_size: int) -> Iterator[pa.Table]:
    """The records from element ``count`` on, parsed in Python (the text starts at "[" or ",")."""
    scanner = _ArrayScanner(blocks)
    scanner.count = count
    records: list[dict] = []
    for record in scanner.objects(resume=count > 0):
        records.append(record)
        if len(records) == chunk_size:
            yield _table(records, known, scanner.count)
            records = []
    if records:
        yield _table(records, known, scanner.count)


def _decoded(blocks: Iterable[bytes]) -> Iterator[str]:
    """Text of UTF-8 blocks already validated (a character may straddle two blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for block in blocks:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _table(records: list[dict], known: dict[str, None], last_number: int) -> pa.Table:
    first = last_number - len(records) + 1
    return records_to_table(records, known, np.arange(first, last_number + 1, dtype=np.int64))


def records_as_json(table: pa.Table) -> list[str]:
    """One compact JSON object text per row of ``table``."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [dumps(row) for row in table.to_pylist()]


class _JsonSession(WriterSession):
    def _open(self) -> None:
        super()._open()
        self._emit("[")
        self._first = True

    def _write_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        lead = "\n" if self._first else ",\n"
        self._emit(lead + ",\n".join(records_as_json(table)))
        self._first = False

    def _finish(self) -> None:
        self._emit("]\n" if self._first else "\n]\n")


class JsonWriter:
    """Writes a JSON array of flat objects."""

    name = "json"
    extension = ".json"

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``; ``[`` now, ``]`` on close."""
        return _JsonSession(path, options, columns)
