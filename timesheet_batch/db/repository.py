"""Keyword-only data access for batches and jobs. Each function takes an open Session.

Claims are optimistic: ``claim_job`` moves a job to PROCESSING with
``UPDATE ... WHERE version = :seen``, so of two workers holding the same message only one
wins; the loser sees ``None`` and does nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.states import (
    CLAIMABLE_JOB_STATES,
    TERMINAL_JOB_STATES,
    BatchStatus,
    JobStatus,
)


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
    """Insert the jobs the batch does not have yet; return the new QUEUED ones.

    Idempotent by (batch, input key): a second discovery of the same files adds nothing.
    """
    known = set(
        session.scalars(select(BatchJob.input_file_path).where(BatchJob.batch_id == batch.id))
    )
    now = utc_now()
    queued: list[QueuedJob] = []
    added = 0
    for job in jobs:
        if job.input_key in known:
            continue
        known.add(job.input_key)
        row = _job_row(batch, job, now)
        session.add(row)
        added += 1
        if row.status == JobStatus.QUEUED:
            queued.append(QueuedJob(row.job_id, job.input_key, job.priority, job.job_type))
    if added:
        batch.total_files += added
        batch.status = BatchStatus.RUNNING
        batch.summarized_at = None
        batch.finished_at = None
    session.flush()
    return queued


def _job_row(batch: Batch | None, job: NewJob, now: dt.datetime) -> BatchJob:
    failed = job.failed_reason is not None
    return BatchJob(
        job_id=str(uuid.uuid4()),
        correlation_id=batch.correlation_id if batch else None,
        report_type=job.job_type,
        role=job.role,
        target_system=job.vendor_id,
        data_format=job.data_format,
        input_file_path=job.input_key,
        status=JobStatus.FAILED if failed else JobStatus.QUEUED,
        error_message=job.failed_reason,
        submitted_at=now,
        completed_at=now if failed else None,
        batch_id=batch.id if batch else None,
        vendor_id=job.vendor_id,
        priority=job.priority,
        business_date=batch.business_date if batch else None,
        version=0,
    )


def add_adhoc_job(session: Session, *, job: NewJob, business_date: dt.date) -> BatchJob:
    """A job outside any batch (``celery call`` of one file)."""
    row = _job_row(None, job, utc_now())
    row.business_date = business_date
    row.correlation_id = f"adhoc-{business_date.isoformat()}"
    session.add(row)
    session.flush()
    return row


def get_job(session: Session, *, job_id: str) -> BatchJob | None:
    return session.scalars(select(BatchJob).where(BatchJob.job_id == job_id)).first()


def claim_job(session: Session, *, job_id: str, worker_id: str) -> BatchJob | None:
    """Move a QUEUED/RETRYING job to PROCESSING for this worker, or return None."""
    job = get_job(session, job_id=job_id)
    if job is None or job.status not in CLAIMABLE_JOB_STATES:
        return None
    now = utc_now()
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job.id, BatchJob.version == job.version)
        .values(
            status=JobStatus.PROCESSING,
            version=job.version + 1,
            worker_id=worker_id[:100],
            started_at=now,
            updated_at=now,
            chunks_done=0,
            records_read=0,
            records_rejected=0,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    session.refresh(job)
    return job


def record_progress(
    session: Session, *, job_id: str, chunks_done: int, records_read: int, records_rejected: int
) -> str:
    """Store one chunk's progress; return the job's status (CANCELLED means stop)."""
    session.execute(
        update(BatchJob)
        .where(BatchJob.job_id == job_id)
        .values(
            chunks_done=chunks_done,
            records_read=records_read,
            records_rejected=records_rejected,
            updated_at=utc_now(),
        )
    )
    return session.scalar(select(BatchJob.status).where(BatchJob.job_id == job_id)) or ""


def finish_job(
    session: Session,
    *,
    job_id: str,
    status: JobStatus,
    error_message: str | None = None,
    records_read: int | None = None,
    records_written: int | None = None,
    records_rejected: int | None = None,
    output_key: str | None = None,
    rejects_key: str | None = None,
) -> None:
    """Put a job in a terminal state with its counts; the message never holds record data."""
    job = get_job(session, job_id=job_id)
    if job is None:
        return
    now = utc_now()
    job.status = status
    job.error_message = error_message[:2000] if error_message else None
    job.completed_at = now
    job.updated_at = now
    if job.started_at is not None:
        job.processing_time_ms = int((now - job.started_at).total_seconds() * 1000)
    if records_read is not None:
        job.records_read = records_read
    if records_written is not None:
        job.records_processed = records_written
    if records_rejected is not None:
        job.records_rejected = records_rejected
    job.output_file_path = output_key
    job.rejects_file_path = rejects_key


def release_for_retry(session: Session, *, job_id: str, error_message: str) -> int:
    """Hand a job back (RETRYING) after a transient error; return its new retry count."""
    job = get_job(session, job_id=job_id)
    if job is None:
        return 0
    job.status = JobStatus.RETRYING
    job.retry_count = (job.retry_count or 0) + 1
    job.error_message = error_message[:2000]
    job.updated_at = utc_now()
    return job.retry_count


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
