"""The worker's hold on a job: claim, lease renewal, progress, final check, finish, hand-back.

Claims are optimistic and fenced: ``claim_job`` moves a job to PROCESSING and bumps its
``version``; of two workers holding the same message only one wins. That version is the
claim's fencing token: every later write here matches only while the job is still
PROCESSING at that version, so a worker that lost its job (cancelled, taken over after its
lease expired) can no longer change it.

The statements every job runs (fresh claim, progress, renewal, status check, finish) are
built once, as Core statements with bind parameters, and executed on the session's
connection: building ORM statements per call cost about 4 ms of CPU per job, a sixth of a
small file's whole run (BENCHMARKS.md). The rarer paths (a busy, expired or exhausted
claim, a hand-back) use the ORM as the rest of the package does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from timesheet_batch.db.models import BatchJob
from timesheet_batch.db.repository import add_error, fenced_update, get_job, utc_now
from timesheet_batch.states import TERMINAL_JOB_STATES, JobStatus, retries_exhausted

_JOBS = BatchJob.__table__
_C = _JOBS.c
_FRESH = [JobStatus.QUEUED.value, JobStatus.RETRYING.value]
_PROCESSING = JobStatus.PROCESSING.value

#: The common claim in one statement (see :func:`claim_job`). Bind names carry a ``p_``
#: prefix: SQLAlchemy reserves the column names themselves in an UPDATE's SET clause.
_CLAIM_FRESH = (
    update(_JOBS)
    .where(_C.job_id == bindparam("p_job_id"), _C.status.in_(_FRESH), _C.attempts < bindparam("p_max_attempts"))
    .values(status=_PROCESSING, version=_C.version + 1, attempts=_C.attempts + 1, worker_id=bindparam("p_worker"),
            started_at=bindparam("p_now"), lease_expires_at=bindparam("p_lease"), chunks_done=0, records_read=0,
            records_rejected=0, updated_at=bindparam("p_now"))
    .returning(*_C)
)
_ROW = select(_JOBS).where(_C.job_id == bindparam("p_job_id"))
_STATUS = select(_C.status).where(_C.job_id == bindparam("p_job_id"), _C.version == bindparam("p_version"))
_JOB_STATUS = select(_C.status).where(_C.job_id == bindparam("p_job_id"))
_HELD = (_C.job_id == bindparam("p_job_id"), _C.version == bindparam("p_version"), _C.status == _PROCESSING)
_RENEW = update(_JOBS).where(*_HELD).values(lease_expires_at=bindparam("p_lease"))
_PROGRESS = (
    update(_JOBS)
    .where(*_HELD)
    .values(chunks_done=bindparam("p_chunks"), records_read=bindparam("p_read"),
            records_rejected=bindparam("p_rejected"), updated_at=bindparam("p_now"))
)
#: Counts given as NULL keep their stored value.
_FINISH = (
    update(_JOBS)
    .where(_C.job_id == bindparam("p_job_id"), _C.version == bindparam("p_version"),
           _C.status == bindparam("p_current"))
    .values(status=bindparam("p_status"), error_message=bindparam("p_error"), completed_at=bindparam("p_now"),
            lease_expires_at=None, output_file_path=bindparam("p_output"), rejects_file_path=bindparam("p_rejects"),
            updated_at=bindparam("p_now"),
            processing_time_ms=func.coalesce(bindparam("p_ms"), _C.processing_time_ms),
            records_read=func.coalesce(bindparam("p_read"), _C.records_read),
            records_processed=func.coalesce(bindparam("p_written"), _C.records_processed),
            records_rejected=func.coalesce(bindparam("p_rejected"), _C.records_rejected),
            chunks_done=func.coalesce(bindparam("p_chunks"), _C.chunks_done))
)


@dataclass(frozen=True)
class Claim:
    """What a claim attempt found: ``job`` (the claimed row) is set only when this worker owns the job.

    ``state`` is one of: ``claimed``; ``busy`` (another worker holds a live lease; try again
    in ``retry_in_s``); ``finished`` (terminal: nothing to do); ``exhausted`` (the job ran out
    of attempts and is now DEAD); ``missing``.
    """

    state: str
    job: Row | None = None
    retry_in_s: float = 0.0
    status: str | None = None


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def claim_fresh(db: Session | Connection, *, job_id: str, worker_id: str, lease_s: float,
                max_attempts: int) -> Row | None:
    """The common claim in one statement: a QUEUED/RETRYING job with attempts left; its row, or None.

    The WHERE clause is the fence: of two workers racing, the second one's UPDATE re-checks
    the status after the first commits and matches nothing (PostgreSQL re-evaluates it on the
    updated row; SQLite serialises writers). None means "take the full path": :func:`claim_job`.
    """
    now = utc_now()
    return _connection(db).execute(_CLAIM_FRESH, {
        "p_job_id": job_id, "p_max_attempts": max_attempts, "p_worker": worker_id[:100], "p_now": now,
        "p_lease": now + dt.timedelta(seconds=lease_s),
    }).first()


def claim_job(session: Session, *, job_id: str, worker_id: str, lease_s: float, max_attempts: int) -> Claim:
    """Take a QUEUED/RETRYING job, or a PROCESSING one whose owner's lease expired.

    The UPDATE is conditional on the version read, so of two workers holding the same
    message only one wins. A job already claimed ``max_attempts`` times (each claim whose
    worker died counts) is parked DEAD instead of being run again: a poison file ends.
    """
    fresh = claim_fresh(session, job_id=job_id, worker_id=worker_id, lease_s=lease_s, max_attempts=max_attempts)
    if fresh is not None:
        return Claim("claimed", job=fresh, status=fresh.status)
    return claim_not_fresh(session, job_id=job_id, worker_id=worker_id, lease_s=lease_s, max_attempts=max_attempts)


def claim_not_fresh(session: Session, *, job_id: str, worker_id: str, lease_s: float,
                    max_attempts: int) -> Claim:
    """:func:`claim_job` for a job :func:`claim_fresh` just did not take: read it, then decide."""
    now = utc_now()
    lease = now + dt.timedelta(seconds=lease_s)
    job = get_job(session, job_id=job_id)
    if job is None:
        return Claim("missing")
    if job.status in TERMINAL_JOB_STATES:
        return Claim("finished", status=job.status)
    if job.status == JobStatus.PROCESSING and job.lease_expires_at and job.lease_expires_at > now:
        return Claim("busy", retry_in_s=(job.lease_expires_at - now).total_seconds() + 1, status=job.status)
    if retries_exhausted(job.attempts, max_attempts):
        reason = f"gave up after {job.attempts} attempt(s); last error: {job.error_message or 'worker lost'}"
        if give_up(session, job, reason=reason, note_lost_worker=True):
            return Claim("exhausted", status=JobStatus.DEAD)
        return Claim("busy", retry_in_s=1.0, status=job.status)
    claimed = fenced_update(
        session, job, status=JobStatus.PROCESSING, version=job.version + 1, attempts=job.attempts + 1,
        worker_id=worker_id[:100], started_at=now, lease_expires_at=lease, chunks_done=0, records_read=0,
        records_rejected=0,
    )
    if not claimed:
        return Claim("busy", retry_in_s=1.0, status=job.status)
    _note_lost_worker(session, job)
    row = session.connection().execute(_ROW, {"p_job_id": job_id}).first()
    return Claim("claimed", job=row, status=row.status)


def give_up(session: Session, job: BatchJob, *, reason: str, note_lost_worker: bool = False) -> bool:
    """Make a job whose attempts are spent DEAD, with ``reason`` in its history; False if it changed meanwhile.

    Fenced like every write here; the claim and the sweeper both end a job this way.
    ``note_lost_worker``: a PROCESSING job's worker died; say so in the history first.
    """
    if not fenced_update(session, job, status=JobStatus.DEAD, error_message=reason[:2000], completed_at=utc_now(),
                         lease_expires_at=None):
        return False
    if note_lost_worker:
        _note_lost_worker(session, job)
    add_error(session, job_id=job.job_id, attempt=job.attempts, error_message=reason)
    return True


def _note_lost_worker(session: Session, job: BatchJob) -> None:
    """A PROCESSING job claimed again: its previous worker died; keep that in the history."""
    if job.status == JobStatus.PROCESSING:
        add_error(session, job_id=job.job_id, attempt=job.attempts,
                  error_message=f"worker {job.worker_id or '?'} lost (lease expired)")


def renew_lease(db: Session | Connection, *, job_id: str, version: int, lease_s: float) -> str | None:
    """Extend the owner's lease; returns the job's status, or None if this worker lost it."""
    lease = utc_now() + dt.timedelta(seconds=lease_s)
    result = _connection(db).execute(_RENEW, {"p_job_id": job_id, "p_version": version, "p_lease": lease})
    if result.rowcount == 1:
        return JobStatus.PROCESSING
    return claimed_status(db, job_id=job_id, version=version)


def record_progress(
    db: Session | Connection, *, job_id: str, version: int, chunks_done: int, records_read: int, records_rejected: int
) -> str | None:
    """Store one chunk's progress; return the job's status, None if this worker lost the job.

    Anything but PROCESSING (CANCELLED, or the job taken over) tells the runner to stop.
    """
    result = _connection(db).execute(_PROGRESS, {
        "p_job_id": job_id, "p_version": version, "p_chunks": chunks_done, "p_read": records_read,
        "p_rejected": records_rejected, "p_now": utc_now(),
    })
    if result.rowcount == 1:
        return JobStatus.PROCESSING
    return claimed_status(db, job_id=job_id, version=version)


def claimed_status(db: Session | Connection, *, job_id: str, version: int) -> str | None:
    """The job's status while claim ``version`` is current; None if that claim was taken over."""
    return _connection(db).execute(_STATUS, {"p_job_id": job_id, "p_version": version}).scalar()


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


def records_error(status: JobStatus, error_message: str | None) -> bool:
    """Whether finishing with ``status`` adds to the job's error history (then it needs a Session)."""
    return bool(error_message) and status in (JobStatus.FAILED, JobStatus.DEAD)


def finish_claimed_job(
    db: Session | Connection,
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
    cancelled, not taken over). ``counts``: ``records_read``/``records_processed``/
    ``records_rejected``/``chunks_done`` (None values are left as they are). A plain
    Connection (e.g. autocommitted) will do unless :func:`records_error`.
    """
    return _write_finish(db, job_id=job_id, version=version, current_status=JobStatus.PROCESSING,
                         attempts=attempts, started_at=started_at, status=status, error_message=error_message,
                         counts=counts or {}, output_key=output_key, rejects_key=rejects_key)


def _write_finish(db: Session | Connection, *, job_id: str, version: int, current_status: str, attempts: int,
                  started_at: dt.datetime | None, status: JobStatus, error_message: str | None,
                  counts: dict[str, int | None], output_key: str | None, rejects_key: str | None) -> bool:
    """The one UPDATE that finishes a job, fenced on (version, current status)."""
    history = records_error(status, error_message)
    if history and not isinstance(db, Session):
        raise TypeError("a finish that records an error needs a Session (one transaction)")
    now = utc_now()
    result = _connection(db).execute(_FINISH, {
        "p_job_id": job_id, "p_version": version, "p_current": str(current_status), "p_status": str(status),
        "p_error": error_message[:2000] if error_message else None, "p_now": now, "p_output": output_key,
        "p_rejects": rejects_key,
        "p_ms": int((now - started_at).total_seconds() * 1000) if started_at is not None else None,
        "p_read": counts.get("records_read"), "p_written": counts.get("records_processed"),
        "p_rejected": counts.get("records_rejected"), "p_chunks": counts.get("chunks_done"),
    })
    ours = result.rowcount == 1
    if ours and history:
        add_error(db, job_id=job_id, attempt=attempts, error_message=error_message)
    return ours


def job_status(db: Session | Connection, *, job_id: str) -> str | None:
    """The job's status now (None: no such job)."""
    return _connection(db).execute(_JOB_STATUS, {"p_job_id": job_id}).scalar()


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
    if not fenced_update(session, job, status=JobStatus.RETRYING, retry_count=(job.retry_count or 0) + 1,
                          error_message=error_message[:2000], lease_expires_at=None, dispatched_at=utc_now(),
                          attempts=attempts):
        return None
    return attempts
