"""Job and batch states, and the one rule that ends a job's retries (docs/architecture.md, "Job states")."""

from __future__ import annotations

import enum

#: The priority queues, in consumption order: a worker started with -Q high,medium,low drains high first.
PRIORITY_QUEUES: tuple[str, ...] = ("high", "medium", "low")


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


def retries_exhausted(attempts: int, max_attempts: int) -> bool:
    """The one rule that makes a job DEAD, for every kind and on every path (a claim, the task
    after a transient error, the sweeper after a lost worker): it was claimed ``max_attempts``
    times, crashed claims included. The fresh claim in ``db.claims`` states it in SQL.
    """
    return attempts >= max_attempts


class BatchStatus(enum.StrEnum):
    """A batch runs until every job is terminal; then it is COMPLETED or FAILED."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class JobType(enum.StrEnum):
    """The stored names of the built-in file kinds (``batch_job_log.report_type``), which the
    report queries select by. The kinds themselves are in the registry (``jobs.kinds``); a new
    kind needs no entry here."""

    PROCESS_FILE = "PROCESS_FILE"
    EXPORT_FILE = "EXPORT_FILE"


class Window(enum.StrEnum):
    """Batch windows: morning reads inbound files, nightly writes outbound files."""

    MORNING = "morning"
    NIGHTLY = "nightly"
