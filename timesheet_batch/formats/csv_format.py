"""CSV: a streaming reader over ``pyarrow.csv.open_csv`` and a formula-safe writer.

Reader
    Every column is read as a string (``00123`` stays ``00123``). The header is peeked in
    Python first, only to learn the column names so they can all be typed as strings, and to
    size pyarrow's blocks (at most 1 MB; batches are then re-cut to exactly ``chunk_size``
    rows). Quoted delimiters and
    quoted line breaks, ``""`` escapes, a UTF-8 BOM and CRLF line ends are handled by pyarrow;
    other encodings (e.g. latin-1) are transcoded by pyarrow through Python's codec.

    ``__record_number`` is ``data row index + 2``: the file line of the record when no value
    holds a quoted line break and there are no blank lines (the header is line 1). Counting
    physical lines exactly would need a second scan of the bytes, which is not worth it.

Writer
    ``pyarrow.csv.write_csv`` per table, minimal quoting. A cell that starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return would be run as a formula by a spreadsheet
    (CSV injection), so it gets a leading single quote. Our outputs are strings we produced;
    negative numbers are never legitimate there (hours, rates and amounts are ≥ 0), so the
    rule is applied to every cell without exceptions.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER, WriterSession, WriteTarget
from timesheet_batch.formats.text_io import string_buffers
from timesheet_batch.vendors.profile import FormatOptions

_PEEK_BLOCK = 64 * 1024
_MAX_HEADER_BYTES = 1024 * 1024
_MIN_BLOCK = 64 * 1024
# Larger blocks cost memory (pyarrow holds several in flight) and buy no speed: measured
# 1 MB blocks peak at ~130 MB RSS over a 300 MB file, 9 MB blocks at ~400 MB, same time.
_MAX_BLOCK = 1024 * 1024
_FORMULA_START = r"^[=+\-@\t\r]"


class _PrefixedStream(io.RawIOBase):
    """The bytes already peeked, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _peek_header(stream: BinaryIO, encoding: str, delimiter: str) -> tuple[bytes, list[str], int]:
    """(peeked bytes, header names, estimated bytes per row).

    Names are empty for an empty file; bytes per row is 0 for a header with no record.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    prefix, text = b"", ""
    while "\n" not in text and len(prefix) < _MAX_HEADER_BYTES:
        block = stream.read(_PEEK_BLOCK)
        prefix += block
        try:
            text += decoder.decode(block, final=not block)
        except UnicodeDecodeError:
            raise UnreadableFileError(f"the file is not valid {encoding} text") from None
        if not block:
            break
    if "\n" not in text and len(prefix) >= _MAX_HEADER_BYTES:
        raise UnreadableFileError("no line break in the first 1 MB: not a CSV file")
    line, newline, rest = text.removeprefix("\ufeff").partition("\n")
    line = line.rstrip("\r")
    if not line.strip():
        return prefix, [], 0  # an empty file
    if "\x00" in line:
        raise UnreadableFileError("the header holds NUL bytes: binary data, not a CSV file")
    try:
        names = next(csv.reader([line], delimiter=delimiter))
    except csv.Error:
        # Found by fuzzing (issue #12): a bare CR in the header line (b"a\rb\n") made the
        # csv module raise _csv.Error, an "internal error" instead of a reason. Its messages
        # hold no data, but a fixed text is safer.
        raise UnreadableFileError(
            "the header line cannot be parsed as CSV (a bare carriage return, or a name over 128 kB)"
        ) from None
    if any(not name.strip() for name in names) or len(set(names)) != len(names):
        raise UnreadableFileError("the header has empty or repeated column names")
    if not (newline and rest.strip()):
        return prefix, names, 0  # a header with no record after it
    row_bytes = max(16, len(prefix) // max(1, prefix.count(b"\n")))
    return prefix, names, row_bytes


def _describe(exc: BaseException, encoding: str) -> str:
    """A message naming the problem, never the data (pyarrow quotes the offending row)."""
    message = str(exc)
    if isinstance(exc, UnicodeError) or "UTF8" in message or "UTF-8" in message:
        return f"the file is not valid {encoding} text"
    where = re.search(r"[Rr]ow #(\d+)", message)
    at = f" at data row {where.group(1)}" if where else ""
    counts = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if counts:
        return f"ragged row{at}: expected {counts.group(1)} columns, got {counts.group(2)}"
    return f"the file cannot be parsed as CSV{at} ({type(exc).__name__})"


def _arrow_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    # pyarrow reads UTF-8 natively (and skips a BOM); anything else goes through Python.
    return "utf8" if name in ("utf-8", "utf-8-sig") else name


def _rechunk(batches: Iterator[pa.RecordBatch], chunk_size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_size`` rows (the last may be shorter) from any batches."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        rows += batch.num_rows
        while rows >= chunk_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_size)
            rest = table.slice(chunk_size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


class CsvReader:
    """Streaming CSV reader (see the module docstring for record numbers)."""

    name = "csv"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` rows plus ``__record_number``."""
        prefix, names, row_bytes = _peek_header(stream, options.encoding, options.delimiter)
        if not names:
            return
        if not row_bytes:
            # Header only: still show the columns, so a file of the wrong shape fails.
            yield _empty_table(names)
            return
        block = min(_MAX_BLOCK, max(_MIN_BLOCK, row_bytes * chunk_size))
        source = _PrefixedStream(prefix, stream)
        encoding = _arrow_encoding(options.encoding)
        next_number = 2  # the header is line 1
        try:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(block_size=block, encoding=encoding),
                parse_options=pacsv.ParseOptions(
                    delimiter=options.delimiter, newlines_in_values=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    strings_can_be_null=False,
                ),
            )
            if reader.schema.names != names:
                # Found by fuzzing (issue #12): a quoted line break in the header
                # (b'"E\nMP",B\n1,2\n') makes pyarrow read other names than the peeked line,
                # so column_types missed them and they were type-inferred: "00123" became 123.
                raise UnreadableFileError(
                    "the header has a quoted line break or unusual quoting: its column names are ambiguous"
                )
            for table in _rechunk(reader, chunk_size):
                numbers = np.arange(next_number, next_number + table.num_rows, dtype=np.int64)
                next_number += table.num_rows
                yield table.append_column(RECORD_NUMBER, pa.array(numbers))
        except (pa.ArrowException, UnicodeError) as exc:
            raise UnreadableFileError(_describe(exc, options.encoding)) from None


def _empty_table(names: list[str]) -> pa.Table:
    columns = {name: pa.array([], pa.string()) for name in names}
    return pa.table({**columns, RECORD_NUMBER: pa.array([], pa.int64())})


def neutralise_formulas(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Prefix ``'`` to cells a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``, tab, CR)."""
    if not _may_start_a_formula(column):
        return column  # most columns: no copy, no regex
    risky = pc.match_substring_regex(column, _FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


_FORMULA_BYTES = np.zeros(256, dtype=bool)
_FORMULA_BYTES[[ord(c) for c in "=+-@\t\r"]] = True


def _may_start_a_formula(column: pa.ChunkedArray | pa.Array) -> bool:
    """False only if no value starts with a formula character (read off the offsets, in numpy).

    A null slot may own bytes; it is looked at too, which can only answer True (the exact
    regex then decides), never hide a risky cell.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if not pa.types.is_string(chunk.type):
            return True  # not the layout read below: let the regex decide
        offsets, data = string_buffers(chunk)
        starts = offsets[:-1][offsets[1:] > offsets[:-1]]
        if len(starts) and _FORMULA_BYTES[data[starts]].any():
            return True
    return False


class _CsvSession(WriterSession):
    def _open(self) -> None:
        super()._open()
        self._header_written = False
        self._utf8 = self._encoding == "utf-8"
        self._write_options = pacsv.WriteOptions(
            include_header=True, delimiter=self.options.delimiter, quoting_style="needed"
        )
        self._plain_options = pacsv.WriteOptions(
            include_header=False, delimiter=self.options.delimiter, quoting_style="needed"
        )

    def _write_table(self, table: pa.Table) -> None:
        safe = pa.Table.from_arrays(
            [neutralise_formulas(column) for column in table.columns], names=table.column_names
        )
        options = self._plain_options if self._header_written else self._write_options
        buffer = pa.BufferOutputStream()
        pacsv.write_csv(safe, buffer, write_options=options)
        data = buffer.getvalue().to_pybytes()
        if not self._utf8:
            data = data.decode("utf-8").encode(self._encoding, errors="replace")
        self._file.write(data)
        self._header_written = True

    def _finish(self) -> None:
        if not self._header_written:
            empty = pa.Table.from_arrays(
                [pa.array([], pa.string()) for _ in self.columns], names=self.columns
            )
            self._write_table(empty)


class CsvWriter:
    """CSV writer: header row, minimal quoting, formula-looking cells neutralised."""

    name = "csv"
    extension = ".csv"

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path`` with ``columns`` as the header."""
        return _CsvSession(path, options, columns)
