"""Parse many flat JSON objects at once with ``pyarrow.json`` into the readers' string columns.

The readers' rules come from Python's ``json`` module: values are kept as their text (a
number ``8.50`` stays ``8.50``, ``true`` becomes ``true``, ``null`` is absent), the last of
duplicate keys wins, a nested value becomes its compact JSON. pyarrow parses in C++ ~5 times
faster but infers types, so :func:`parse_objects` only accepts a batch whose result is exactly
what Python would give and returns None otherwise; the caller then parses that batch in Python:

* string and null columns are taken as they are; bool columns become ``true`` / ``false``;
* int64 columns become their decimal text, unless a zero may have been written ``-0``;
* a string that pyarrow took for a timestamp is parsed again as a string (explicit schema);
* anything else (a float whose text would be lost, a nested object or array, a duplicate key,
  NaN, a lone surrogate, any syntax error, ...) -> None.

The caller must also check that the number of rows is the number of objects it expected: the
batch is parsed as a sequence of objects, so ``{..} {..}`` on one line gives two rows.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from timesheet_batch.formats.base import RECORD_NUMBER

_MIN_BLOCK = 1024 * 1024
#: Fewer objects than this are parsed by Python: pyarrow's setup, and the second parse that
#: date-like strings need, cost more than Python's json on a small file (140 sample objects:
#: ~1.8 ms per parse under cProfile with pyarrow, ~0.55 ms with json, measured unprofiled).
MIN_OBJECTS = 1000
_OBJECT_FIRST = re.compile(rb"[ \t\n\r]*\{")
#: ``-0`` as a whole number (maybe inside a string too: then Python just parses the batch).
_MINUS_ZERO = re.compile(rb"-0(?![0-9.eE])")


def parse_objects(data: bytes, string_columns: set[str]) -> pa.Table | None:
    """The objects of ``data`` (UTF-8, objects separated by whitespace) as string columns, or None.

    ``string_columns`` are keys known to hold strings: they are parsed as strings outright,
    so a date-like string is never taken for a timestamp; columns found to hold strings are
    added to it.
    """
    if not _OBJECT_FIRST.match(data):
        return None  # pyarrow 26 crashes (SIGSEGV) on a first value ``null``: never give it one
    table = _read(data, string_columns)
    if table is None:
        return None
    stamps = {f.name for f in table.schema if pa.types.is_timestamp(f.type)}
    if stamps:
        again = _read(data, string_columns | stamps)
        if again is None:
            return None
        # Explicit columns come first: keep the first-seen order of the first parse.
        table = again.select(table.column_names)
    arrays = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_string(kind):
            string_columns.add(name)
        elif pa.types.is_null(kind) or pa.types.is_boolean(kind):
            column = column.cast(pa.string())  # bool casts to "true" / "false", as Python's as_text
        elif pa.types.is_int64(kind):
            # "-0" parses to 0 and would come back as "0": leave such a batch to Python.
            if _MINUS_ZERO.search(data) and pc.any(pc.equal(column, 0)).as_py():
                return None
            column = column.cast(pa.string())
        else:
            return None
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=table.column_names) if arrays else table


def _read(data: bytes, string_columns: set[str]) -> pa.Table | None:
    schema = pa.schema([(name, pa.string()) for name in string_columns])
    try:
        return pajson.read_json(
            pa.BufferReader(data),
            # One block, so pyarrow never cuts the text: objects may span lines without paying
            # for newlines_in_values (~20 % slower). One thread: the farm runs a process per
            # core, and the pipeline already reads a chunk ahead in a thread.
            read_options=pajson.ReadOptions(use_threads=False, block_size=max(_MIN_BLOCK, len(data) + 1)),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        return None


def align_columns(table: pa.Table, known: dict[str, None], numbers: np.ndarray) -> pa.Table:
    """``table`` with every column seen so far (first-seen order, ``known`` is updated) + numbers.

    The same columns :func:`~timesheet_batch.formats.text_io.records_to_table` gives: a key
    seen in an earlier chunk is an all-null column of a later one.
    """
    known.update(dict.fromkeys(table.column_names))
    present = set(table.column_names)
    arrays = [
        table.column(name) if name in present else pa.chunked_array([pa.nulls(table.num_rows, pa.string())])
        for name in known
    ]
    arrays.append(pa.chunked_array([pa.array(numbers, pa.int64())]))
    return pa.Table.from_arrays(arrays, names=[*known, RECORD_NUMBER])
