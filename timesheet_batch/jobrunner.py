"""Running one file job: claim it, run its pipeline, record the outcome. No Celery here.

The task layer calls :func:`run_file_job` and maps what escapes it (transient errors only)
to retry or DEAD; everything the file itself causes ends here as FAILED with a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from timesheet_batch import pipeline
from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.discovery import describe_file, job_type_for_key
from timesheet_batch.errors import BadFileError, JobCancelledError
from timesheet_batch.retry_policy import is_transient
from timesheet_batch.states import JobStatus, JobType
from timesheet_batch.storage import layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    """What a file task returns: ids, state and counts only — never record contents."""

    job_id: str
    status: str
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    error: str | None = None
    skipped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def run_file_job(ctx: FarmContext, *, job_id: str, worker_id: str) -> JobOutcome:
    """Claim and run one job; transient errors propagate with the job left PROCESSING."""
    with session_scope(ctx.database_url) as session:
        job = repo.claim_job(session, job_id=job_id, worker_id=worker_id)
        if job is None:
            current = repo.get_job(session, job_id=job_id)
            status = current.status if current else "UNKNOWN"
            log.info("job %s not claimable (status %s): nothing to do", job_id, status)
            return JobOutcome(job_id, status, skipped=True)
    log.info("job %s claimed: %s %s", job_id, job.report_type, job.input_file_path)
    try:
        result = _execute(ctx, job)
    except BadFileError as exc:
        return _finish(ctx, job_id, JobStatus.FAILED, error=str(exc))
    except JobCancelledError:
        return _finish(ctx, job_id, JobStatus.CANCELLED, error="cancelled")
    except Exception as exc:
        if is_transient(exc):
            raise
        # A bug, not the file: fail the job with the error type only (its text may hold data).
        log.exception("job %s failed with an unexpected %s", job_id, type(exc).__name__)
        return _finish(ctx, job_id, JobStatus.FAILED, error=f"internal error ({type(exc).__name__})")
    return _finish(
        ctx,
        job_id,
        JobStatus.COMPLETED,
        read=result.records_read,
        written=result.records_written,
        rejected=result.records_rejected,
        output_key=result.output_key,
        rejects_key=result.rejects_key,
    )


def _execute(ctx: FarmContext, job) -> pipeline.FileOutcome:
    vendor = ctx.catalog.get(job.vendor_id or layout.parse_file_key(job.input_file_path).vendor_id)
    business_date = job.business_date or layout.parse_file_key(job.input_file_path).business_date
    on_chunk = _progress_recorder(ctx, job.job_id)
    if job.report_type == JobType.PROCESS_FILE:
        return pipeline.process_inbound_file(
            storage=ctx.storage,
            vendor=vendor,
            key=job.input_file_path,
            business_date=business_date,
            chunk_size=ctx.settings.chunk_size,
            on_chunk=on_chunk,
        )
    return pipeline.export_processed_file(
        storage=ctx.storage,
        vendor=vendor,
        policy=ctx.catalog.masking_for(vendor.role),
        masking_key=ctx.masking_key,
        processed_key=job.input_file_path,
        business_date=business_date,
        chunk_size=ctx.settings.chunk_size,
        on_chunk=on_chunk,
    )


def _progress_recorder(ctx: FarmContext, job_id: str):
    """Store progress after each chunk; stop at the chunk boundary if the job was cancelled."""

    def on_chunk(progress: pipeline.ChunkProgress) -> None:
        with session_scope(ctx.database_url) as session:
            status = repo.record_progress(
                session,
                job_id=job_id,
                chunks_done=progress.chunk_index + 1,
                records_read=progress.records_read,
                records_rejected=progress.records_rejected,
            )
        if status == JobStatus.CANCELLED:
            raise JobCancelledError(f"job {job_id} was cancelled")

    return on_chunk


def _finish(ctx: FarmContext, job_id: str, status: JobStatus, *, error: str | None = None,
            read: int | None = None, written: int | None = None, rejected: int | None = None,
            output_key: str | None = None, rejects_key: str | None = None) -> JobOutcome:
    with session_scope(ctx.database_url) as session:
        repo.finish_job(
            session,
            job_id=job_id,
            status=status,
            error_message=error,
            records_read=read,
            records_written=written,
            records_rejected=rejected,
            output_key=output_key,
            rejects_key=rejects_key,
        )
    log.info("job %s %s: read=%s written=%s rejected=%s", job_id, status, read, written, rejected)
    return JobOutcome(job_id, status, read or 0, written or 0, rejected or 0, error)


def ensure_adhoc_job(ctx: FarmContext, *, key: str) -> str:
    """A job row for a file submitted by hand (``celery call``); returns its job id."""
    layout.safe_key(key)
    new_job = describe_file(ctx.catalog, key=key, job_type=job_type_for_key(key))
    with session_scope(ctx.database_url) as session:
        row = repo.add_adhoc_job(session, job=new_job, business_date=_date_of(key))
        return row.job_id


def _date_of(key: str) -> dt.date:
    return layout.parse_file_key(key).business_date


def give_up(ctx: FarmContext, *, job_id: str, error: str) -> JobOutcome:
    """Retries are exhausted: the job is DEAD with its last error."""
    return _finish(ctx, job_id, JobStatus.DEAD, error=error)


def hand_back(ctx: FarmContext, *, job_id: str, error: str) -> int:
    """Release a job for a retry after a transient error; returns the retry count so far."""
    with session_scope(ctx.database_url) as session:
        return repo.release_for_retry(session, job_id=job_id, error_message=error)
