"""Where the valid records of one file wait for the cross-record pass.

Up to ``memory_rows`` records (default :data:`MEMORY_ROWS`, about 125 MB of canonical columns)
stay in memory: the common file never touches disk before its one final Parquet write. Past
that, everything is flushed to an uncompressed local Parquet file (one row group per chunk;
compression would cost more CPU than the local disk saves) and later chunks are appended
there, so memory stays bounded however large the file is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from timesheet_batch.pipeline.records import CANONICAL_SCHEMA

MEMORY_ROWS = 1_000_000
#: An input file larger than this spills from its first chunk: it would pass MEMORY_ROWS
#: anyway (a million ACME records are ~89 MB of CSV), and holding a million records at the
#: moment the reading threads peak took a 1 GB file over 512 MB of RSS (BENCHMARKS.md).
SPILL_INPUT_BYTES = 128 * 1024 * 1024


class ValidSpool:
    """An append-only, ordered store of canonical chunks: memory first, then a temp file."""

    def __init__(self, spill_path: Path | None, memory_rows: int | None = None):
        """``spill_path`` None: memory only, for an input known to be small (never spills)."""
        self.spill_path = spill_path
        self.memory_rows = MEMORY_ROWS if memory_rows is None else memory_rows
        self.num_rows = 0
        self._tables: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None

    @property
    def in_memory(self) -> bool:
        """Whether every record is still held in memory."""
        return self._writer is None

    def plan_for(self, input_bytes: int | None) -> None:
        """Spill from the next append on if the input file is large (None: size unknown)."""
        if input_bytes is not None and input_bytes > SPILL_INPUT_BYTES and self.spill_path is not None:
            self.memory_rows = 0

    def append(self, table: pa.Table) -> None:
        """Add one chunk of canonical records (kept in file order)."""
        self.num_rows += table.num_rows
        if self._writer is None and (self.num_rows <= self.memory_rows or self.spill_path is None):
            self._tables.append(table)
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.spill_path, CANONICAL_SCHEMA, compression="none", use_dictionary=False
            )
            for held in self._tables:
                self._writer.write_table(held)
            self._tables = []
        self._writer.write_table(table)

    def finish(self) -> None:
        """No more appends; closes the spill file if there is one."""
        if self._writer is not None:
            self._writer.close()

    def chunks(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The stored chunks in order (only ``columns`` if given); call after finish()."""
        if self.in_memory:
            for table in self._tables:
                yield table.select(columns) if columns else table
            return
        parquet = pq.ParquetFile(self.spill_path)
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index, columns=columns)

    def close(self) -> None:
        """Drop the held tables and the spill file."""
        self.finish()
        self._tables = []
        if self.spill_path is not None:
            self.spill_path.unlink(missing_ok=True)
