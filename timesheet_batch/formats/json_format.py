"""JSON writer: one array of objects, streamed chunk by chunk (never built in memory).

Each record becomes ``{"FIELD": "value", ...}`` with the columns in the order given; a null
cell is written as ``null``. Non-ASCII text is written as is, in the file's encoding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from timesheet_batch.formats.base import WriterSession
from timesheet_batch.vendors.profile import FormatOptions


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

    def open(self, path: Path, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path``; ``[`` now, ``]`` on close."""
        return _JsonSession(path, options, columns)
