"""The batch summary: files by state, records read/written/rejected, duration.

Fired by the chord callback once every job of the batch is terminal. The claim on
``batches.summarized_at`` makes it happen once per batch however often it is called;
the summary file is written inside the claiming transaction, so a failed write leaves
the batch unclaimed for the next attempt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.logsafe import safe
from timesheet_batch.states import BatchStatus, JobStatus
from timesheet_batch.storage import layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSummary:
    """What ``reports/{date}/batch-summary-{window}.json`` holds."""

    batch_id: str
    correlation_id: str
    window: str
    business_date: str
    status: str
    files_total: int
    files_by_status: dict[str, int]
    records_read: int
    records_written: int
    records_rejected: int
    duration_ms: int
    summary_key: str


def summarize_batch(ctx: FarmContext, *, batch_id: str) -> BatchSummary | None:
    """Summarise a finished batch once; None if it is not finished or already summarised."""
    with session_scope(ctx.database_url) as session:
        if not repo.claim_summary(session, batch_id=batch_id):
            log.info("batch %s: summary not due (jobs still running, or already summarised)", safe(batch_id))
            return None
        batch = repo.get_batch(session, batch_id=batch_id)
        counts = repo.job_counts(session, batch_id=batch_id)
        read, written, rejected = session.execute(
            select(
                func.coalesce(func.sum(BatchJob.records_read), 0),
                func.coalesce(func.sum(BatchJob.records_processed), 0),
                func.coalesce(func.sum(BatchJob.records_rejected), 0),
            ).where(BatchJob.batch_id == batch_id)
        ).one()
        now = repo.utc_now()
        _apply(batch, counts, int(read), int(written), int(rejected), now)
        key = layout.report_key(batch.business_date, f"batch-summary-{batch.window}.json")
        batch.summary_key = key
        summary = BatchSummary(
            batch_id=batch.id,
            correlation_id=batch.correlation_id,
            window=batch.window,
            business_date=batch.business_date.isoformat(),
            status=batch.status,
            files_total=batch.total_files,
            files_by_status=dict(sorted(counts.items())),
            records_read=batch.records_read,
            records_written=batch.records_written,
            records_rejected=batch.records_rejected,
            duration_ms=batch.duration_ms or 0,
            summary_key=key,
        )
        ctx.storage.write_bytes(key, json.dumps(asdict(summary), indent=2).encode())
    log.info("batch %s summarised: %s", safe(batch_id), summary.files_by_status)
    return summary


def _apply(batch, counts: dict[str, int], read: int, written: int, rejected: int, now) -> None:
    batch.files_completed = counts.get(JobStatus.COMPLETED, 0)
    batch.files_failed = counts.get(JobStatus.FAILED, 0)
    batch.files_dead = counts.get(JobStatus.DEAD, 0)
    batch.files_cancelled = counts.get(JobStatus.CANCELLED, 0)
    batch.records_read, batch.records_written, batch.records_rejected = read, written, rejected
    batch.finished_at = now
    batch.duration_ms = int((now - (batch.started_at or batch.created_at)).total_seconds() * 1000)
    clean = batch.files_completed == batch.total_files
    batch.status = BatchStatus.COMPLETED if clean else BatchStatus.FAILED
