"""The file pipelines: pure stage functions over pyarrow chunks (no Celery, no database).

``process_inbound_file`` turns one vendor file into canonical Parquet plus rejects;
``export_processed_file`` turns processed Parquet into the vendor's masked outbound file.
"""

from timesheet_batch.pipeline.inbound import (
    DEFAULT_CHUNK_SIZE,
    ChunkProgress,
    FileOutcome,
    process_inbound_file,
)
from timesheet_batch.pipeline.outbound import export_processed_file

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ChunkProgress",
    "FileOutcome",
    "export_processed_file",
    "process_inbound_file",
]
