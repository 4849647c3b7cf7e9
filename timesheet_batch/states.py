"""Job and batch states (ARCHITECTURE.md, "Job states")."""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    """``QUEUED → PROCESSING → COMPLETED | FAILED | CANCELLED``, plus RETRYING and DEAD."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    RETRYING = "RETRYING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    DEAD = "DEAD"


TERMINAL_JOB_STATES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DEAD}
)


class BatchStatus(enum.StrEnum):
    """A batch runs until every job is terminal; then it is COMPLETED or FAILED."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class JobType(enum.StrEnum):
    """Registered job types; stored in ``batch_job_log.report_type``."""

    PROCESS_FILE = "PROCESS_FILE"
    EXPORT_FILE = "EXPORT_FILE"


class Window(enum.StrEnum):
    """Batch windows: morning reads inbound files, nightly writes outbound files."""

    MORNING = "morning"
    NIGHTLY = "nightly"
