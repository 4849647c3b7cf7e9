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
    added = requeued = 0
    for job in jobs:
        row = known.get(job.input_key)
        if row is None:
            row = _job_row(batch, job, now)
            session.add(row)
            known[job.input_key] = row
            added += 1
        elif not _changed_and_finished(row, job) or not _requeue(session, row, job, now):
            continue
        else:
            requeued += 1
        if row.status == JobStatus.QUEUED:
            queued.append(QueuedJob(row.job_id, job.input_key, job.priority, job.job_type))
    if added or requeued:
        batch.total_files += added
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
    requeued = _fenced_update(
        session, row, status=JobStatus.QUEUED, version=row.version + 1, attempts=0, retry_count=0,
        content_fingerprint=job.fingerprint, error_message=None, completed_at=None, dispatched_at=now,
        submitted_at=now,
    )
    if requeued:
        session.refresh(row)
    return requeued


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
        attempts=0,
        content_fingerprint=job.fingerprint,
        dispatched_at=None if failed else now,
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


@dataclass(frozen=True)
class Claim:
    """What a claim attempt found: ``job`` is set only when this worker now owns the job.

    ``state`` is one of: ``claimed``; ``busy`` (another worker holds a live lease; try again
    in ``retry_in_s``); ``finished`` (terminal: nothing to do); ``exhausted`` (the job ran out
    of attempts and is now DEAD); ``missing``.
    """

    state: str
    job: BatchJob | None = None
    retry_in_s: float = 0.0
    status: str | None = None


def claim_job(session: Session, *, job_id: str, worker_id: str, lease_s: float, max_attempts: int) -> Claim:
    """Take a QUEUED/RETRYING job, or a PROCESSING one whose owner's lease expired.

    The UPDATE is conditional on the version read, so of two workers holding the same
    message only one wins. A job already claimed ``max_attempts`` times (each claim whose
    worker died counts) is parked DEAD instead of being run again: a poison file ends.
    """
    now = utc_now()
    fresh = _claim_fresh(session, job_id=job_id, worker_id=worker_id, lease_s=lease_s, max_attempts=max_attempts,
                         now=now)
    if fresh is not None:
        return Claim("claimed", job=fresh, status=fresh.status)
    job = get_job(session, job_id=job_id)
    if job is None:
        return Claim("missing")
    if job.status in TERMINAL_JOB_STATES:
        return Claim("finished", status=job.status)
    if job.status == JobStatus.PROCESSING and job.lease_expires_at and job.lease_expires_at > now:
        return Claim("busy", retry_in_s=(job.lease_expires_at - now).total_seconds() + 1, status=job.status)
    if job.attempts >= max_attempts:
        reason = f"gave up after {job.attempts} attempt(s); last error: {job.error_message or 'worker lost'}"
        if _fenced_update(session, job, status=JobStatus.DEAD, error_message=reason[:2000], completed_at=now,
                          lease_expires_at=None):
            _note_lost_worker(session, job)
            add_error(session, job_id=job_id, attempt=job.attempts, error_message=reason)
            return Claim("exhausted", status=JobStatus.DEAD)
        return Claim("busy", retry_in_s=1.0, status=job.status)
    claimed = _fenced_update(
        session,
        job,
        status=JobStatus.PROCESSING,
        version=job.version + 1,
        attempts=job.attempts + 1,
        worker_id=worker_id[:100],
        started_at=now,
        lease_expires_at=now + dt.timedelta(seconds=lease_s),
        chunks_done=0,
        records_read=0,
        records_rejected=0,
    )
    if not claimed:
        return Claim("busy", retry_in_s=1.0, status=job.status)
    _note_lost_worker(session, job)
    session.refresh(job)
    return Claim("claimed", job=job, status=job.status)


def _claim_fresh(session: Session, *, job_id: str, worker_id: str, lease_s: float, max_attempts: int,
                 now: dt.datetime) -> BatchJob | None:
    """The common case in one statement: a QUEUED/RETRYING job with attempts left; its row, or None.

    The WHERE clause is the fence: of two workers racing for the job, the second one's UPDATE
    re-checks the status after the first commits and matches nothing (PostgreSQL re-evaluates
    it on the updated row; SQLite serialises writers). Everything else (a live or expired
    lease, attempts spent, a finished or missing job) takes the read-then-update path.
    """
    stmt = (
        update(BatchJob)
        .where(BatchJob.job_id == job_id, BatchJob.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]),
               BatchJob.attempts < max_attempts)
        .values(status=JobStatus.PROCESSING, version=BatchJob.version + 1, attempts=BatchJob.attempts + 1,
                worker_id=worker_id[:100], started_at=now, lease_expires_at=now + dt.timedelta(seconds=lease_s),
                chunks_done=0, records_read=0, records_rejected=0, updated_at=now)
        .returning(BatchJob)
        # populate_existing: the session may already hold the row as it was read before.
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return session.scalars(stmt).first()


def _note_lost_worker(session: Session, job: BatchJob) -> None:
    """A PROCESSING job claimed again: its previous worker died; keep that in the history."""
    if job.status == JobStatus.PROCESSING:
        add_error(session, job_id=job.job_id, attempt=job.attempts,
                  error_message=f"worker {job.worker_id or '?'} lost (lease expired)")


def _fenced_update(session: Session, job: BatchJob, **values) -> bool:
    """UPDATE the job only if nobody changed it since it was read (same version and status)."""
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job.id, BatchJob.version == job.version, BatchJob.status == job.status)
        .values(updated_at=utc_now(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def renew_lease(session: Session, *, job_id: str, version: int, lease_s: float) -> str | None:
    """Extend the owner's lease; returns the job's status, or None if this worker lost it."""
    now = utc_now()
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.job_id == job_id, BatchJob.version == version, BatchJob.status == JobStatus.PROCESSING)
        .values(lease_expires_at=now + dt.timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        return JobStatus.PROCESSING
    return claimed_status(session, job_id=job_id, version=version)


def record_progress(
    session: Session, *, job_id: str, version: int, chunks_done: int, records_read: int, records_rejected: int
) -> str | None:
    """Store one chunk's progress; return the job's status, None if this worker lost the job.

    Anything but PROCESSING (CANCELLED, or the job taken over) tells the runner to stop.
    """
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.job_id == job_id, BatchJob.version == version, BatchJob.status == JobStatus.PROCESSING)
        .values(
            chunks_done=chunks_done,
            records_read=records_read,
            records_rejected=records_rejected,
            updated_at=utc_now(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        return JobStatus.PROCESSING
    return claimed_status(session, job_id=job_id, version=version)


def claimed_status(session: Session, *, job_id: str, version: int) -> str | None:
    """The job's status while claim ``version`` is current; None if that claim was taken over."""
    return session.scalar(select(BatchJob.status).where(BatchJob.job_id == job_id, BatchJob.version == version))


def finish_job(
    session: Session,
    *,
    job_id: str,
    status: JobStatus,
    version: int | None = None,
    error_message: str | None = None,
    records_read: int | None = None,
    records_written: int | None = None,
    records_rejected: int | None = None,
    output_key: str | None = None,
    rejects_key: str | None = None,
) -> bool:
    """Put a job in a terminal state with its counts; False if it was not ours to finish.

    With ``version`` the write is fenced: only the worker holding that claim, while the job
    is still PROCESSING, may finish it (a cancelled or taken-over job is left alone). The
    message never holds record data.
    """
    job = get_job(session, job_id=job_id)
    if job is None or job.status in TERMINAL_JOB_STATES:
        return False
    if version is not None and (job.version != version or job.status != JobStatus.PROCESSING):
        return False
    counts = {"records_read": records_read, "records_processed": records_written, "records_rejected": records_rejected}
    return _write_finish(session, job_id=job_id, version=job.version, current_status=job.status,
                         attempts=job.attempts, started_at=job.started_at, status=status,
                         error_message=error_message, counts=counts, output_key=output_key, rejects_key=rejects_key)


def finish_claimed_job(
    session: Session,
    *,
    job_id: str,
    version: int,
    attempts: int,
    started_at: dt.datetime | None,
    status: JobStatus,
    error_message: str | None = None,
    counts: dict[str, int | None] | None = None,
    output_key: str | None = None,
    rejects_key: str | None = None,
) -> bool:
    """:func:`finish_job` for the worker holding claim ``version``, in one fenced UPDATE.

    The claim already told the worker ``attempts`` and ``started_at``, so nothing is read
    first; the UPDATE matches only while the job is still PROCESSING at that version (not
    cancelled, not taken over). ``counts``: ``records_read``/``records_processed``/``chunks_done``/
    ``records_rejected`` (None values are left as they are).
    """
    return _write_finish(session, job_id=job_id, version=version, current_status=JobStatus.PROCESSING,
                         attempts=attempts, started_at=started_at, status=status, error_message=error_message,
                         counts=counts or {}, output_key=output_key, rejects_key=rejects_key)


def _write_finish(session: Session, *, job_id: str, version: int, current_status: str, attempts: int,
                  started_at: dt.datetime | None, status: JobStatus, error_message: str | None,
                  counts: dict[str, int | None], output_key: str | None, rejects_key: str | None) -> bool:
    """The one UPDATE that finishes a job, fenced on (version, current status)."""
    now = utc_now()
    values: dict = {
        "status": status, "error_message": error_message[:2000] if error_message else None, "completed_at": now,
        "lease_expires_at": None, "output_file_path": output_key, "rejects_file_path": rejects_key,
        "updated_at": now, **{k: v for k, v in counts.items() if v is not None},
    }
    if started_at is not None:
        values["processing_time_ms"] = int((now - started_at).total_seconds() * 1000)
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.job_id == job_id, BatchJob.version == version, BatchJob.status == current_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    ours = result.rowcount == 1
    if ours and error_message and status in (JobStatus.FAILED, JobStatus.DEAD):
        add_error(session, job_id=job_id, attempt=attempts, error_message=error_message)
    return ours


def release_for_retry(
    session: Session, *, job_id: str, version: int, error_message: str, refund_attempt: bool = False
) -> int | None:
    """Hand a job back (RETRYING); its attempts so far, or None if it was not ours.

    After a transient error the attempt counts; a job handed back by a worker that is
    shutting down gets its attempt refunded (``refund_attempt``), it did nothing wrong.
    """
    job = get_job(session, job_id=job_id)
    if job is None or job.version != version or job.status != JobStatus.PROCESSING:
        return None
    attempts = job.attempts - 1 if refund_attempt else job.attempts
    if not refund_attempt:
        add_error(session, job_id=job_id, attempt=job.attempts, error_message=error_message)
    if not _fenced_update(session, job, status=JobStatus.RETRYING, retry_count=(job.retry_count or 0) + 1,
                          error_message=error_message[:2000], lease_expires_at=None, dispatched_at=utc_now(),
                          attempts=attempts):
        return None
    return attempts


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
