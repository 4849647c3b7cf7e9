"""Keyword-only data access for batches and jobs. Each function takes an open Session.

What a worker does to the job it runs (claim, lease, progress, finish) is in :mod:`.claims`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from timesheet_batch.db.models import Batch, BatchJob, JobError
from timesheet_batch.states import TERMINAL_JOB_STATES, BatchStatus, JobStatus


def utc_now() -> dt.datetime:
    """Naive UTC, the convention of every timestamp column."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class NewJob:
    """What discovery knows about one file before its job row exists."""

    job_type: str
    input_key: str
    vendor_id: str | None
    priority: str
    data_format: str | None
    role: str | None
    failed_reason: str | None = None  # set when discovery already knows the file is bad
    fingerprint: str | None = None  # the stored object's size/etag: a changed file reruns


@dataclass(frozen=True)
class QueuedJob:
    """A job row that must be dispatched: its id, input key and queue."""

    job_id: str
    input_key: str
    priority: str
    job_type: str


def get_or_create_batch(session: Session, *, window: str, business_date: dt.date) -> Batch:
    """The batch of (window, date); concurrent callers end up with the same row."""
    found = _find_batch(session, window=window, business_date=business_date)
    if found is not None:
        return found
    batch = Batch(
        id=str(uuid.uuid4()),
        correlation_id=f"{window}-{business_date.isoformat()}",
        window=window,
        business_date=business_date,
        status=BatchStatus.RUNNING,
        started_at=utc_now(),
    )
    try:
        with session.begin_nested():
            session.add(batch)
    except IntegrityError:
        found = _find_batch(session, window=window, business_date=business_date)
        if found is None:
            raise
        return found
    return batch


def _find_batch(session: Session, *, window: str, business_date: dt.date) -> Batch | None:
    stmt = select(Batch).where(Batch.window == window, Batch.business_date == business_date)
    return session.scalars(stmt).first()


def add_jobs(session: Session, *, batch: Batch, jobs: Iterable[NewJob]) -> list[QueuedJob]:
    """Insert the jobs the batch does not have yet; return the ones to dispatch now.

    Idempotent by (batch, input key): a second discovery of the same files adds nothing.
    A finished job whose file changed since (another fingerprint) is queued again, so the
    new content replaces the old output instead of being ignored.
    """
    known = {
        row.input_file_path: row
        for row in session.scalars(select(BatchJob).where(BatchJob.batch_id == batch.id))
    }
    now = utc_now()
    queued: list[QueuedJob] = []
    new_rows: dict[str, dict] = {}  # by input key: a key listed twice is added once
    requeued = 0
    for job in jobs:
        row = known.get(job.input_key)
        if row is None and job.input_key not in new_rows:
            values = new_rows[job.input_key] = _job_values(batch, job, now)
            if values["status"] == JobStatus.QUEUED:
                queued.append(QueuedJob(values["job_id"], job.input_key, job.priority, job.job_type))
        elif row is not None and _changed_and_finished(row, job) and _requeue(session, row, job, now):
            requeued += 1
            if row.status == JobStatus.QUEUED:
                queued.append(QueuedJob(row.job_id, job.input_key, job.priority, job.job_type))
    if new_rows:
        # One executemany of plain rows: the ORM's unit of work and its multi-row VALUES
        # statement (which psycopg re-parses in Python) cost ~0.6 ms a job at 2,500 files.
        session.execute(insert(BatchJob.__table__), list(new_rows.values()))
    if new_rows or requeued:
        batch.total_files += len(new_rows)
        batch.status = BatchStatus.RUNNING
        batch.summarized_at = None
        batch.finished_at = None
    session.flush()
    return queued


def _changed_and_finished(row: BatchJob, job: NewJob) -> bool:
    return (
        job.fingerprint is not None
        and row.content_fingerprint is not None
        and job.fingerprint != row.content_fingerprint
        and row.status in TERMINAL_JOB_STATES
    )


def _requeue(session: Session, row: BatchJob, job: NewJob, now: dt.datetime) -> bool:
    requeued = fenced_update(
        session, row, status=JobStatus.QUEUED, version=row.version + 1, attempts=0, retry_count=0,
        content_fingerprint=job.fingerprint, error_message=None, completed_at=None, dispatched_at=now,
        submitted_at=now,
    )
    if requeued:
        session.refresh(row)
    return requeued


def _job_values(batch: Batch | None, job: NewJob, now: dt.datetime) -> dict:
    """The column values of a new job row (every column the database does not default)."""
    failed = job.failed_reason is not None
    return {
        "job_id": str(uuid.uuid4()),
        "correlation_id": batch.correlation_id if batch else None,
        "report_type": job.job_type,
        "role": job.role,
        "target_system": job.vendor_id,
        "data_format": job.data_format,
        "input_file_path": job.input_key,
        "status": JobStatus.FAILED if failed else JobStatus.QUEUED,
        "error_message": job.failed_reason,
        "submitted_at": now,
        "completed_at": now if failed else None,
        "batch_id": batch.id if batch else None,
        "vendor_id": job.vendor_id,
        "priority": job.priority,
        "business_date": batch.business_date if batch else None,
        "version": 0,
        "attempts": 0,
        "content_fingerprint": job.fingerprint,
        "dispatched_at": None if failed else now,
    }


def add_adhoc_job(session: Session, *, job: NewJob, business_date: dt.date, job_id: str | None = None) -> BatchJob:
    """A job outside any batch (``celery call`` of one file); ``job_id``: the message's task id,
    so the id ``celery call`` printed is the one ``status`` looks up."""
    row = BatchJob(**_job_values(None, job, utc_now()))
    if job_id is not None:
        row.job_id = job_id
    row.business_date = business_date
    row.correlation_id = f"adhoc-{business_date.isoformat()}"
    session.add(row)
    session.flush()
    return row


def add_refused_job(session: Session, *, job_id: str, job_type: str, input_key: str | None, reason: str,
                    business_date: dt.date) -> BatchJob:
    """A FAILED job for a message refused before it became a job (an unsafe key, bad parameters),
    under the message's task id: nothing is acked without a row saying what happened."""
    existing = get_job(session, job_id=job_id)
    if existing is not None:  # a redelivered copy of the same refused message
        return existing
    failed = NewJob(job_type, input_key, None, "low", None, None, failed_reason=reason[:2000])
    return add_adhoc_job(session, job=failed, business_date=business_date, job_id=job_id)


def get_job(session: Session, *, job_id: str) -> BatchJob | None:
    return session.scalars(select(BatchJob).where(BatchJob.job_id == job_id)).first()


def fenced_update(session: Session, job: BatchJob, *, unchanged: Sequence[str] = (), **values) -> bool:
    """UPDATE the job only if nobody changed it since it was read (same version and status).

    ``unchanged`` names more columns that must still hold the values read (a sweeper's
    ``dispatched_at``), so of two callers deciding on the same row exactly one wins.
    """
    conditions = [BatchJob.id == job.id, BatchJob.version == job.version, BatchJob.status == job.status]
    for name in unchanged:
        column, seen = getattr(BatchJob, name), getattr(job, name)
        conditions.append(column.is_(None) if seen is None else column == seen)
    result = session.execute(
        update(BatchJob).where(*conditions).values(updated_at=utc_now(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def add_error(session: Session, *, job_id: str, attempt: int, error_message: str) -> None:
    """Append to a job's error history (kept for DEAD jobs and ``dead-letter list``)."""
    session.add(JobError(job_id=job_id, attempt=attempt, error_message=error_message[:2000], occurred_at=utc_now()))


def job_errors(session: Session, *, job_id: str) -> Sequence[JobError]:
    stmt = select(JobError).where(JobError.job_id == job_id).order_by(JobError.id)
    return session.scalars(stmt).all()


def job_counts(session: Session, *, batch_id: str) -> dict[str, int]:
    """Number of jobs per status in a batch."""
    rows = session.execute(
        select(BatchJob.status, func.count())
        .where(BatchJob.batch_id == batch_id)
        .group_by(BatchJob.status)
    )
    return {status: count for status, count in rows}


def batch_jobs(session: Session, *, batch_id: str) -> Sequence[BatchJob]:
    stmt = select(BatchJob).where(BatchJob.batch_id == batch_id).order_by(BatchJob.id)
    return session.scalars(stmt).all()


def get_batch(session: Session, *, batch_id: str) -> Batch | None:
    return session.get(Batch, batch_id)


def latest_batches(session: Session, *, limit: int = 10) -> Sequence[Batch]:
    stmt = select(Batch).order_by(Batch.created_at.desc()).limit(limit)
    return session.scalars(stmt).all()


def claim_summary(session: Session, *, batch_id: str) -> bool:
    """Win the right to summarise a finished batch; False if another did or jobs still run."""
    unfinished = (
        select(func.count())
        .select_from(BatchJob)
        .where(BatchJob.batch_id == batch_id, BatchJob.status.not_in(list(TERMINAL_JOB_STATES)))
        .scalar_subquery()
    )
    result = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.summarized_at.is_(None), unfinished == 0)
        .values(summarized_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
