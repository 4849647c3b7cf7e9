"""Cancelling a job or a whole batch (the jobs of kinds that are ``cancellable``).

Queued jobs become CANCELLED at once and their messages, when delivered, do nothing. A
running job is marked CANCELLED too: its worker sees it at the next chunk boundary (or
lease renewal), stops, and publishes no output; its fenced finish cannot undo the cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import kinds
from timesheet_batch.states import JobStatus

CANCELLABLE = (JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.PROCESSING)


@dataclass(frozen=True)
class CancelResult:
    """How many jobs were cancelled, and the batch if a batch id was given."""

    cancelled: int
    batch_id: str | None


def cancel(ctx: FarmContext, *, target_id: str) -> CancelResult:
    """Cancel the unfinished jobs of a batch, or one job; ConfigurationError for an unknown id."""
    with session_scope(ctx.database_url) as session:
        batch = repo.get_batch(session, batch_id=target_id)
        if batch is not None:
            condition = BatchJob.batch_id == batch.id
        else:
            stored = session.scalar(select(BatchJob.report_type).where(BatchJob.job_id == target_id))
            if stored is None:
                raise ConfigurationError(f"no batch or job with id {target_id[:60]!r}")
            if not kinds.for_stored_name(stored).cancellable:
                raise ConfigurationError(f"job {target_id} is a {stored} job, which cannot be cancelled")
            condition = BatchJob.job_id == target_id
        cancellable_kinds = [name for kind in kinds.all_kinds() if kind.cancellable for name in kind.stored_names]
        result = session.execute(
            update(BatchJob)
            .where(condition, BatchJob.status.in_(list(CANCELLABLE)), BatchJob.report_type.in_(cancellable_kinds))
            .values(status=JobStatus.CANCELLED, error_message="cancelled by an operator",
                    completed_at=repo.utc_now(), lease_expires_at=None, updated_at=repo.utc_now())
            .execution_options(synchronize_session=False)
        )
        return CancelResult(result.rowcount, batch.id if batch else None)
