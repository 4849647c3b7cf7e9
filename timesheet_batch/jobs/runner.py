"""Running one job of any kind: claim it, hold its lease, run its kind, record the outcome. No Celery.

The task layer calls :func:`run_job` and maps what escapes it (transient errors only) to
retry or DEAD; everything the job itself causes ends here as FAILED with a reason. Every
write after the claim is fenced by the claimed version, so a worker that lost its job
(cancelled, or taken over after its lease expired) can no longer change it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field

from timesheet_batch import pipeline
from timesheet_batch.context import FarmContext
from timesheet_batch.db import claims
from timesheet_batch.db.engine import autocommit_connection, session_scope
from timesheet_batch.errors import JobCancelledError, JobHandedBackError, TimesheetBatchError, TransientJobError
from timesheet_batch.jobs import shutdown
from timesheet_batch.jobs.kinds import JobKind, JobRun
from timesheet_batch.jobs.lease import LeaseKeeper
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.jobs.retry_policy import is_transient
from timesheet_batch.logsafe import safe
from timesheet_batch.states import JobStatus

log = logging.getLogger(__name__)
#: Least time between two progress writes of a job, except the final one (see on_chunk).
PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class JobOutcome:
    """What a job task returns: ids, state and counts only — never record contents.

    ``retry_in_s`` > 0 means another worker holds a live lease: ask again later.
    ``handed_back`` means this worker is shutting down and gave the job back: run it again.
    """

    job_id: str
    status: str
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    error: str | None = None
    skipped: bool = False
    retry_in_s: float = 0.0
    handed_back: bool = False
    exhausted: bool = False  # its attempts ran out at this claim: now DEAD, to be parked
    details: dict = field(default_factory=dict)
    dependents: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ClaimedJob:
    """The claim a worker holds: the job id and the version that fences its writes."""

    job_id: str
    version: int
    attempts: int
    started_at: dt.datetime | None = None


def run_job(ctx: FarmContext, kind: JobKind, *, job_id: str, worker_id: str,
            publisher: Publisher | None = None) -> JobOutcome:
    """Claim and run one job of ``kind``. Transient errors propagate as ``TransientJobError``.

    ``publisher`` sends what follows a finished job (its kind's ``after_finish``, e.g. a
    report's dependents); None fires nothing.
    """
    outcome = _claim_and_run(ctx, kind, job_id=job_id, worker_id=worker_id)
    return _after_finish(ctx, kind, outcome, publisher)


def _claim_and_run(ctx: FarmContext, kind: JobKind, *, job_id: str, worker_id: str) -> JobOutcome:
    settings = ctx.settings
    claim = _claim(ctx, kind, job_id=job_id, worker_id=worker_id)
    job = claim.job
    if job is None:
        log.info("job %s not run: %s (status %s)", safe(job_id), claim.state, claim.status)
        return JobOutcome(job_id, claim.status or claim.state, skipped=True, retry_in_s=claim.retry_in_s,
                          exhausted=claim.state == "exhausted")
    held = ClaimedJob(job.job_id, job.version, job.attempts, job.started_at)
    log.info("job %s claimed (attempt %d): %s %s", safe(job_id), held.attempts, job.report_type,
             safe(job.input_file_path))
    progress = _ProgressRecorder(ctx, held)
    try:
        with LeaseKeeper(ctx.database_url, job_id=job_id, version=held.version, lease_s=settings.lease_s) as lease:
            progress.lease = lease
            result = kind.run(JobRun(ctx, job, held.attempts, progress))
    except JobCancelledError as exc:
        return _finish(ctx, held, JobStatus.CANCELLED, error=str(exc), **progress.counts())
    except JobHandedBackError as exc:
        with session_scope(ctx.database_url) as session:
            claims.release_for_retry(session, job_id=job_id, version=held.version, error_message=str(exc),
                                     refund_attempt=True)
        log.warning("job %s handed back: the worker is shutting down", job_id)
        return JobOutcome(job_id, JobStatus.RETRYING, skipped=True, handed_back=True)
    except Exception as exc:
        if is_transient(exc):
            raise TransientJobError(held, exc) from exc
        if isinstance(exc, TimesheetBatchError):  # the input is bad (a file, a report's period): say why
            return _finish(ctx, held, JobStatus.FAILED, error=str(exc), **progress.counts())
        # A bug, not the input: fail the job with the error type only (its text may hold data).
        log.exception("job %s failed with an unexpected %s", job_id, type(exc).__name__)
        return _finish(ctx, held, JobStatus.FAILED, error=f"internal error ({type(exc).__name__})")
    chunks = progress.counts()["chunks"]
    return _finish(
        ctx, held, JobStatus.COMPLETED, read=result.records_read, written=result.records_written,
        rejected=result.records_rejected, output_key=result.output_key, rejects_key=result.rejects_key,
        chunks=chunks, details=result.details,
    )


def _after_finish(ctx: FarmContext, kind: JobKind, outcome: JobOutcome, publisher: Publisher | None) -> JobOutcome:
    """Run the kind's follow-up of a job this call finished (never raises: the job stays finished)."""
    if kind.after_finish is None or outcome.skipped and not outcome.exhausted:
        return outcome
    try:
        fired = kind.after_finish(ctx, outcome.job_id, outcome.status, publisher)
    except Exception:  # noqa: BLE001 - the job is finished and stays so
        log.exception("job %s: what follows it was not fired", outcome.job_id)
        return outcome
    return JobOutcome(**{**outcome.as_dict(), "dependents": list(fired)})


def _claim(ctx: FarmContext, kind: JobKind, *, job_id: str, worker_id: str) -> claims.Claim:
    """Claim the job: the common case in one autocommitted statement, anything else the full way.

    Not durable either way: a claim a database crash undoes only makes the job run again.
    """
    settings = ctx.settings
    options = {"job_id": job_id, "worker_id": worker_id, "lease_s": settings.lease_s,
               "max_attempts": kind.max_attempts(settings.max_retries)}
    with autocommit_connection(ctx.database_url) as connection:
        fresh = claims.claim_fresh(connection, **options)
    if fresh is not None:
        return claims.Claim("claimed", job=fresh, status=fresh.status)
    with session_scope(ctx.database_url, durable=False) as session:
        return claims.claim_not_fresh(session, **options)


class _ProgressRecorder:
    """Store progress after chunks; stop at a chunk boundary if the job is no longer ours.

    The call right before publishing (``progress.final``) always reads the job's status, so a
    job cancelled at any time before it publishes nothing; it writes nothing, since the finish
    stores the same counts a moment later (:meth:`counts`, also for a file that fails on its
    reject limit or is cancelled). Other chunks write (and check) when PROGRESS_EVERY_S has
    passed since the claim or the last write: a one-chunk file then costs no write at all, and
    a cancel is still seen within a chunk plus PROGRESS_EVERY_S. Progress writes are not
    durable (a crash that undoes one loses only a figure).
    """

    def __init__(self, ctx: FarmContext, held: ClaimedJob):
        self.ctx = ctx
        self.held = held
        self.lease: LeaseKeeper | None = None
        self.last: pipeline.ChunkProgress | None = None
        self._last_write = time.monotonic()  # the claim just confirmed the job is ours

    def __call__(self, progress: pipeline.ChunkProgress) -> None:
        held = self.held
        if shutdown.hand_back_due():
            raise JobHandedBackError(f"job {held.job_id} handed back: the worker is shutting down")
        if self.lease is not None and self.lease.lost_status is not None:
            raise JobCancelledError(f"job {held.job_id} stopped: it is {self.lease.lost_status}")
        self.last = progress
        if not progress.final and time.monotonic() - self._last_write < PROGRESS_EVERY_S:
            return
        self._last_write = time.monotonic()
        with autocommit_connection(self.ctx.database_url) as connection:
            if progress.final:
                status = claims.claimed_status(connection, job_id=held.job_id, version=held.version)
            else:
                status = claims.record_progress(
                    connection, job_id=held.job_id, version=held.version, chunks_done=progress.chunk_index + 1,
                    records_read=progress.records_read, records_rejected=progress.records_rejected,
                )
        if status != JobStatus.PROCESSING:
            raise JobCancelledError(f"job {held.job_id} stopped: it is {status or 'taken over'}")

    def counts(self) -> dict[str, int | None]:
        """The last progress seen, as :func:`_finish` keywords (None: none seen, keep the row's)."""
        last = self.last
        if last is None:
            return {"read": None, "rejected": None, "chunks": None}
        return {"read": last.records_read, "rejected": last.records_rejected, "chunks": last.chunk_index + 1}


def _finish(ctx: FarmContext, held: ClaimedJob, status: JobStatus, *, error: str | None = None,
            read: int | None = None, written: int | None = None, rejected: int | None = None,
            output_key: str | None = None, rejects_key: str | None = None, chunks: int | None = None,
            details: dict | None = None) -> JobOutcome:
    # One fenced UPDATE (the claim already told us the attempt and the start time), on its own
    # and not waiting for the WAL flush: the outputs were fsynced before it, and a database
    # crash that undoes it only makes the job run again (RELIABILITY.md, "What a database crash
    # can undo"); waiting for the flush cost 12-20 % of the seed load's time (BENCHMARKS.md).
    # With an error-history row, in one durable transaction.
    scope = (session_scope(ctx.database_url) if claims.records_error(status, error)
             else autocommit_connection(ctx.database_url))
    with scope as db:
        ours = claims.finish_claimed_job(
            db, job_id=held.job_id, version=held.version, attempts=held.attempts, started_at=held.started_at,
            status=status, error_message=error, output_key=output_key, rejects_key=rejects_key,
            counts={"records_read": read, "records_processed": written, "records_rejected": rejected,
                    "chunks_done": chunks},
        )
        if not ours:
            status = claims.job_status(db, job_id=held.job_id) or status
    log.info("job %s %s: read=%s written=%s rejected=%s", held.job_id, status, read, written, rejected)
    return JobOutcome(held.job_id, status, read or 0, written or 0, rejected or 0, error, skipped=not ours,
                      details=details or {})


def hand_back(ctx: FarmContext, error: TransientJobError) -> int | None:
    """Release a job for a retry; the attempts so far, or None if it was no longer ours."""
    with session_scope(ctx.database_url) as session:
        return claims.release_for_retry(session, job_id=error.held.job_id, version=error.held.version,
                                        error_message=str(error))


def give_up(ctx: FarmContext, kind: JobKind, error: TransientJobError,
            publisher: Publisher | None = None) -> JobOutcome:
    """Retries are exhausted: the job is DEAD with its last error (then its kind's follow-up)."""
    outcome = _finish(ctx, error.held, JobStatus.DEAD, error=f"retries exhausted: {error}")
    return _after_finish(ctx, kind, outcome, publisher)
