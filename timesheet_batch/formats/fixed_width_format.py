"""Fixed width: columns at fixed character positions (``ColumnSpec``: name, start, width).

Reader
    The file is read as UTF-8 bytes block by block (a UTF-8 file is only validated, another
    ``options.encoding`` is transcoded) and a chunk of lines (``\\n`` or ``\\r\\n``) becomes one
    Arrow string array straight from those bytes, the line ends found with numpy (no Python
    string per line). Each column is then sliced out of the whole chunk at once with
    pyarrow.compute, so positions and widths count characters, not bytes, whatever the
    encoding. Trailing spaces (the padding) are removed from each value; leading ones are kept
    (validation trims them). A short line yields empty values for the columns it does not
    reach. Blank lines are skipped. There is no header line.

    ``__record_number`` is the physical line number (exact).

Writer
    Columns are laid out in order of ``start``; a gap between two columns is filled with
    spaces. A value holding a line break or another control character would break the line
    structure, so those become spaces. Lines end with ``\\n``. Formatting is vectorised with
    pyarrow.compute (pad, slice, join), no per-row Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.formats.base import RECORD_NUMBER, WriterSession, WriteTarget, strip_control_chars
from timesheet_batch.formats.text_io import line_chunks, lines_array
from timesheet_batch.vendors.profile import FormatOptions


def parse_fixed_width(text: pa.Array, first_number: int, options: FormatOptions) -> pa.Table | None:
    """String columns sliced out of the lines ``text`` plus their line numbers; None if all blank."""
    numbers = np.arange(first_number, first_number + len(text), dtype=np.int64)
    blank = pc.equal(pc.utf8_trim_whitespace(text), "").to_numpy(zero_copy_only=False)
    if blank.all():
        return None
    if blank.any():
        text, numbers = text.filter(pa.array(~blank)), numbers[~blank]
    arrays = [
        pc.utf8_rtrim(pc.utf8_slice_codeunits(text, spec.start, spec.start + spec.width), characters=" ")
        for spec in options.columns or ()
    ]
    if pa.types.is_large_string(text.type):  # only for a chunk over 2 GB
        arrays = [array.cast(pa.string()) for array in arrays]
    names = [spec.name for spec in options.columns or ()]
    return pa.Table.from_arrays([*arrays, pa.array(numbers)], names=[*names, RECORD_NUMBER])


class FixedWidthReader:
    """Streaming fixed-width reader (see the module docstring)."""

    name = "fixed_width"

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield string tables of at most ``chunk_size`` records plus ``__record_number``."""
        if not options.columns:
            raise ConfigurationError("fixed_width input needs columns (name, start, width)")
        for chunk in line_chunks(stream, options.encoding, chunk_size):
            table = parse_fixed_width(lines_array(chunk), chunk.first_number, options)
            if table is not None:
                yield table


def format_fixed_width(table: pa.Table, options: FormatOptions) -> pa.Array:
    """One fixed-width line (without line end) per row of ``table``."""
    pieces: list[pa.Array | str] = []
    position = 0
    for spec in sorted(options.columns or (), key=lambda c: c.start):
        if spec.start > position:
            pieces.append(" " * (spec.start - position))
        if spec.name in table.column_names:
            column = pc.fill_null(table.column(spec.name), "")
        else:
            column = pa.array([""] * table.num_rows, pa.string())
        column = strip_control_chars(column, line_breaks=True)
        column = pc.utf8_slice_codeunits(column, 0, spec.width)
        pieces.append(pc.utf8_rpad(column, width=spec.width, padding=" "))
        position = spec.start + spec.width
    if not pieces:
        raise ConfigurationError("fixed_width output needs columns")
    return pc.binary_join_element_wise(*pieces, "")


class _FixedWidthSession(WriterSession):
    def _open(self) -> None:
        if not self.options.columns:
            raise ConfigurationError("fixed_width output needs columns (name, start, width)")
        super()._open()
        # Keep every spec column, including ones not named in ``columns`` (written blank).
        self.columns = list(dict.fromkeys([*self.columns, *(c.name for c in self.options.columns)]))

    def _write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            lines = format_fixed_width(table, self.options)
            self._emit("\n".join(lines.to_pylist()) + "\n")


class FixedWidthWriter:
    """Writes one fixed-width line per record, laid out by ``options.columns``."""

    name = "fixed_width"
    extension = ".txt"

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``."""
        return _FixedWidthSession(path, options, columns)
