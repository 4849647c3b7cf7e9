"""Fixed-width writer: each column padded or truncated to its ``ColumnSpec`` width.

Columns are laid out in order of ``start``; a gap between two columns is filled with spaces.
Widths count characters, not bytes. A value holding a line break or another control character
would break the line structure, so those become spaces. Lines end with ``\\n``. Formatting is
vectorised with pyarrow.compute (pad, slice, join), no per-row Python.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.formats.base import WriterSession, strip_control_chars
from timesheet_batch.vendors.profile import FormatOptions


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

    def open(self, path: Path, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``."""
        return _FixedWidthSession(path, options, columns)
