"""NDJSON: one flat JSON object per line, read and written as a stream.

Reader
    Lines are read in chunks of ``chunk_size`` lines as UTF-8 bytes
    (:func:`~timesheet_batch.formats.text_io.line_chunks`; another ``options.encoding`` is
    transcoded). A chunk is parsed in one call of ``pyarrow.json``
    (:mod:`~timesheet_batch.formats.arrow_json`) when numpy shows that every non-blank line
    starts with ``{`` and ends with ``}`` and pyarrow returns one row per such line: then each
    line is exactly one object (a line that ended inside an object would make the next ``{`` a
    syntax error). A chunk pyarrow cannot give exactly as Python would (numbers with a
    fraction, nested values, duplicate keys, blank lines holding other white space, any error)
    is parsed in Python instead: the lines joined into one array for the C JSON decoder,
    falling back to line by line only to locate a broken line. Values are kept as text like
    the JSON reader does (numbers as written). Blank lines are skipped. A line that is not a
    JSON object makes the file UnreadableFileError (the message names the line number and the
    JSON error, never data).

    ``__record_number`` is the physical line number of the record (exact: blank lines count).

Writer
    One compact object per line (``\\n`` separated), in the file's encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import arrow_json
from timesheet_batch.formats.arrow_json import align_columns, parse_objects
from timesheet_batch.formats.base import WriterSession, WriteTarget
from timesheet_batch.formats.json_format import records_as_json
from timesheet_batch.formats.text_io import JSON_DECODER, LineChunk, line_chunks, records_to_table
from timesheet_batch.vendors.profile import FormatOptions

_CR, _OPEN, _CLOSE = ord("\r"), ord("{"), ord("}")
#: JSON's white space (besides the line feed); Python's str.strip() knows more.
_JSON_SPACE = " \t\r"


def _parse_lines(lines: list[str], first_number: int) -> tuple[list[dict], np.ndarray]:
    """(objects, their line numbers) of the non-blank ``lines``."""
    numbers = np.array([i for i, line in enumerate(lines) if line.strip()], dtype=np.int64)
    kept = [lines[i] for i in numbers] if len(numbers) != len(lines) else lines
    try:
        objects = JSON_DECODER.decode("[" + ",".join(kept) + "]")
    except json.JSONDecodeError:
        objects = None
    # A line such as '{"a":1},{"b":2}' would still decode joined: the count catches it.
    if objects is None or len(objects) != len(kept) or not all(type(o) is dict for o in objects):
        objects = [_parse_line(line, first_number + int(i)) for line, i in zip(kept, numbers, strict=True)]
    return objects, numbers + first_number


def _parse_line(line: str, number: int) -> dict:
    try:
        value = JSON_DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(f"line {number} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise UnreadableFileError(f"line {number} is not a JSON object")
    return value


class NdjsonReader:
    """Streaming reader of one JSON object per line (see the module docstring)."""

    name = "ndjson"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` records plus ``__record_number``."""
        known: dict[str, None] = {}
        strings: set[str] = set()
        for chunk in line_chunks(stream, options.encoding, chunk_size):
            table = _parse_chunk(chunk, known, strings)
            if table is None:
                objects, numbers = _parse_lines(chunk.lines(), chunk.first_number)
                table = records_to_table(objects, known, numbers) if objects else None
            if table is not None and table.num_rows:
                yield table


def _parse_chunk(chunk: LineChunk, known: dict[str, None], strings: set[str]) -> pa.Table | None:
    """The chunk's records parsed by pyarrow; None when Python must parse it (see the docstring)."""
    ends = chunk.ends
    if len(ends) < arrow_json.MIN_OBJECTS:
        return None  # a small file (or chunk size): Python is faster
    raw = np.frombuffer(chunk.data, np.uint8)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    stops = ends - ((ends > starts) & (raw[ends - 1] == _CR))  # without the line end
    whole = (stops > starts) & (raw[starts] == _OPEN) & (raw[np.maximum(stops - 1, 0)] == _CLOSE)
    keep = np.ones(len(ends), dtype=bool)
    for i in np.flatnonzero(~whole):  # blank lines, or padded ones: rare, looked at one by one
        line = chunk.data[starts[i] : ends[i]].decode("utf-8")
        core = line.strip(_JSON_SPACE)
        if not core:
            keep[i] = False
        elif not line.strip() or core[0] != "{" or core[-1] != "}":
            return None  # blank only to Python, or not one object: Python decides
    lines = int(keep.sum())
    if lines == 0:
        return pa.table({})  # nothing but blank lines: no records (and no table), as in Python
    table = parse_objects(chunk.data, strings)
    if table is None or table.num_rows != lines:
        return None
    numbers = np.flatnonzero(keep) + chunk.first_number
    return align_columns(table, known, numbers)


class _NdjsonSession(WriterSession):
    def _write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            self._emit("\n".join(records_as_json(table)) + "\n")


class NdjsonWriter:
    """Writes one flat JSON object per line."""

    name = "ndjson"
    extension = ".ndjson"

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``."""
        return _NdjsonSession(path, options, columns)
