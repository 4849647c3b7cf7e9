"""NDJSON: one flat JSON object per line, read and written as a stream.

Reader
    Lines are read in blocks (:func:`~timesheet_batch.formats.text_io.line_blocks`, decoded
    with ``options.encoding``). A block of lines is decoded in one call of the C JSON decoder
    (the lines joined into one array), falling back to line by line only to locate a broken
    line. Values are kept as text like the JSON reader does (numbers as written). Blank lines
    are skipped. A line that is not a JSON object makes the file UnreadableFileError (the
    message names the line number and the JSON error, never data).

    ``__record_number`` is the physical line number of the record (exact: blank lines count).

Writer
    One compact object per line (``\\n`` separated), in the file's encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import WriterSession
from timesheet_batch.formats.json_format import records_as_json
from timesheet_batch.formats.text_io import JSON_DECODER, line_blocks, records_to_table
from timesheet_batch.vendors.profile import FormatOptions


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
        for lines, first_number in line_blocks(stream, options.encoding, chunk_size):
            objects, numbers = _parse_lines(lines, first_number)
            if objects:
                yield records_to_table(objects, known, numbers)


class _NdjsonSession(WriterSession):
    def _write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            self._emit("\n".join(records_as_json(table)) + "\n")


class NdjsonWriter:
    """Writes one flat JSON object per line."""

    name = "ndjson"
    extension = ".ndjson"

    def open(self, path: Path, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``."""
        return _NdjsonSession(path, options, columns)
