"""The file pipelines: pure stage functions over pyarrow chunks (no Celery, no database).

``process_inbound_file`` turns one vendor file into canonical Parquet plus rejects;
``export_processed_file`` turns processed Parquet into the vendor's masked outbound file.

The stages are loaded on first use (:func:`__getattr__`): they bring pyarrow, pandas and the
format readers (about a second to import), which a command that only looks at jobs must not
pay. Worker processes load them before the pool forks (``messaging/tasks.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

from timesheet_batch.pipeline.progress import ChunkProgress

_STAGES = {
    "ChunkCheckpoint": "checkpoint",
    "DEFAULT_CHUNK_SIZE": "inbound",
    "FileOutcome": "inbound",
    "process_inbound_file": "inbound",
    "export_processed_file": "outbound",
}

__all__ = ["ChunkCheckpoint", "ChunkProgress", "DEFAULT_CHUNK_SIZE", "FileOutcome", "export_processed_file",
           "process_inbound_file"]


def __getattr__(name: str) -> Any:
    module = _STAGES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups (and a test's patch) find a plain attribute
    return value
