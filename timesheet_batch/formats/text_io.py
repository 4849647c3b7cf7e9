"""Shared plumbing of the Python-side streaming readers (JSON, NDJSON, fixed width).

* :func:`decoded_blocks` decodes a binary stream block by block with an incremental decoder,
  so memory is one block whatever the file size, and turns a decoding error into an
  :class:`~timesheet_batch.errors.UnreadableFileError` that names the encoding, never the bytes.
* :func:`line_blocks` cuts those blocks into lists of lines with their 1-based line numbers.
* :func:`records_to_table` turns parsed JSON objects into string columns plus
  ``__record_number``.
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER

#: Bytes read from the stream at a time.
BLOCK_BYTES = 1024 * 1024
#: A longer line (or JSON record) means a broken file; refusing it keeps memory bounded.
MAX_RECORD_CHARS = 16 * 1024 * 1024


def decoded_blocks(stream: BinaryIO, encoding: str, block_bytes: int = BLOCK_BYTES) -> Iterator[str]:
    """Text blocks of ``stream``; a leading BOM is dropped; bad bytes -> UnreadableFileError."""
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
    for name in known:
        values = [record.get(name) for record in records]
        try:
            arrays.append(pa.array(values, pa.string()))
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arrays.append(pa.array([as_text(v) for v in values], pa.string()))
    arrays.append(pa.array(numbers, pa.int64()))
    return pa.Table.from_arrays(arrays, names=[*known, RECORD_NUMBER])


#: Keeps number text as written (``8.50`` stays ``8.50``), never a float.
JSON_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)
