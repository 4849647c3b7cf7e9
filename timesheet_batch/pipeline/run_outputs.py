"""Where one run (inbound or export) writes its outputs before publishing them: memory or a folder.

A small input (the common 140-record file) writes its outputs into memory buffers and
publishes them with ``Storage.write_objects``: no temporary folder, no work file linked,
copied or removed; the published files are the only files it creates (a 140-record job:
13.4-16.1 -> 13.3-14.7 ms in interleaved pairs, more where creating a file is slow;
BENCHMARKS.md). A larger input writes local files in a temporary folder, where its spool
may spill and the cross-record pass may partition, removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from timesheet_batch.formats.base import WriteTarget
from timesheet_batch.storage.base import Storage


def input_size(stream: BinaryIO) -> int | None:
    """The size in bytes of the object behind a storage stream; None when unknown.

    A local file's from the file, an S3 object's from the response (``size_bytes``).
    """
    size = getattr(stream, "size_bytes", None)
    if size is not None:
        return size
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


class RunOutputs:
    """The outputs of one run by name; use as a context manager (the folder goes at exit)."""

    def __init__(self, *, in_memory: bool):
        self.work_dir: Path | None = (
            None if in_memory else Path(tempfile.mkdtemp(prefix="timesheet-inbound-"))
        )
        self._buffers: dict[str, pa.BufferOutputStream] = {}

    @property
    def in_memory(self) -> bool:
        """Whether the outputs are held in memory (then there is no work folder)."""
        return self.work_dir is None

    def target(self, name: str) -> WriteTarget:
        """Where to write output ``name``: a new memory buffer, or a path in the work folder."""
        if self.work_dir is not None:
            return self.work_dir / name
        buffer = self._buffers[name] = pa.BufferOutputStream()
        return buffer

    def publish(self, storage: Storage, outputs: dict[str, str]) -> None:
        """Store each finished output (name -> key), each atomically; in memory, as one group."""
        if self.work_dir is not None:
            for name, key in outputs.items():
                storage.publish_file(self.work_dir / name, key)
        else:
            storage.write_objects(
                [(key, memoryview(self._buffers[name].getvalue())) for name, key in outputs.items()]
            )

    def close(self) -> None:
        """Drop the buffers and remove the work folder, whatever happened."""
        self._buffers.clear()
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> RunOutputs:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
