"""Per-chunk commits of an inbound run, so a restarted job resumes after its last one.

Spring Batch restarts a step from its last committed chunk; here a chunk's validated
records and rejects are written to storage under ``staging/{token}/`` before the next
chunk is processed. A run that crashed (SIGKILL, lost worker) is claimed again, finds
the committed parts, replays them into its spool without validating them again, skips
those chunks of the file, and goes on. Nothing is published until the whole file is done,
so the output holds every record exactly once either way.

Commits are lazy: chunk ``n`` is committed when chunk ``n + 1`` arrives, so a file of one
chunk (most files) never touches the staging area. Chunk boundaries are deterministic
(readers cut at ``chunk_size`` records), so a resumed run skips exactly the committed ones.
The token names the job and the content of its file: a changed file never resumes from
parts of the old one.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from timesheet_batch.storage.base import Storage
from timesheet_batch.storage.layout import safe_key

log = logging.getLogger(__name__)
STAGING = "staging"
_READ_KEY = b"records_read"


class ChunkCheckpoint:
    """The committed chunks of one job's run of one file content."""

    def __init__(self, storage: Storage, *, job_id: str, content: str | None, may_resume: bool):
        """``may_resume``: an earlier attempt ran, so look for its parts (a first run need not)."""
        digest = hashlib.sha256(f"{job_id}|{content or ''}".encode()).hexdigest()[:24]
        self.storage = storage
        self.prefix = safe_key(f"{STAGING}/{digest}") + "/"
        self.may_resume = may_resume
        self._pending: tuple[int, pa.Table, pa.Table, int] | None = None
        self._wrote = False

    def _key(self, index: int, kind: str) -> str:
        return f"{self.prefix}{index:06d}.{kind}.parquet"

    def committed(self) -> int:
        """How many leading chunks are committed (both parts present, no gap)."""
        if not self.may_resume:
            return 0
        names = {info.key.rsplit("/", 1)[1] for info in self.storage.list(self.prefix)}
        count = 0
        while f"{count:06d}.valid.parquet" in names and f"{count:06d}.rejects.parquet" in names:
            count += 1
        return count

    def load(self, count: int) -> Iterator[tuple[pa.Table, pa.Table, int]]:
        """(valid, rejects, records read) of the first ``count`` committed chunks."""
        for index in range(count):
            valid = pq.read_table(io.BytesIO(self.storage.read_bytes(self._key(index, "valid"))))
            rejects_table = pq.read_table(io.BytesIO(self.storage.read_bytes(self._key(index, "rejects"))))
            read = int(rejects_table.schema.metadata[_READ_KEY])
            yield valid, rejects_table.replace_schema_metadata(None), read

    def offer(self, index: int, valid: pa.Table, rejects: pa.Table, read: int) -> None:
        """Chunk ``index`` is done: commit the one before it (see the module docstring)."""
        if self._pending is not None:
            self._commit(*self._pending)
        self._pending = (index, valid, rejects, read)

    def _commit(self, index: int, valid: pa.Table, rejects: pa.Table, read: int) -> None:
        # The rejects part is written last: its presence marks the chunk committed.
        self._wrote = True
        self._write(self._key(index, "valid"), valid)
        meta = {**(rejects.schema.metadata or {}), _READ_KEY: str(read).encode()}
        self._write(self._key(index, "rejects"), rejects.replace_schema_metadata(meta))

    def _write(self, key: str, table: pa.Table) -> None:
        # One chunk (at most chunk_size records) is held in memory anyway: no temp file.
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="snappy")
        self.storage.write_bytes(key, memoryview(buffer.getvalue()))

    def clear(self) -> None:
        """Remove the staged parts (after the file was published or failed for good)."""
        self._pending = None
        if not (self._wrote or self.may_resume):
            return  # nothing was ever staged for this run
        for info in list(self.storage.list(self.prefix)):
            self.storage.delete(info.key)
