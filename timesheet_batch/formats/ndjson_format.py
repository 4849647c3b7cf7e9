"""NDJSON writer: one JSON object per line (``\\n`` separated), streamed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from timesheet_batch.formats.base import WriterSession
from timesheet_batch.formats.json_format import records_as_json
from timesheet_batch.vendors.profile import FormatOptions


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
