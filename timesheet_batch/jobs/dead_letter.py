"""Dead letters: DEAD jobs (retries exhausted), listed with their error history and replayed.

The database is the record (a DEAD job with its error history); the publisher also parks one
message per DEAD job in a dead-letter queue that no worker consumes, so operators see them in
the broker and Flower. Replay queues a job of any replayable kind again, through its kind's
task, and takes its parked message away.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.states import JobStatus


@dataclass(frozen=True)
class DeadJob:
    """A DEAD job as ``dead-letter list`` shows it."""

    job_id: str
    kind: str
    input_file_path: str | None
    vendor_id: str | None
    attempts: int
    error_message: str | None
    errors: list[str]


def list_dead(ctx: FarmContext) -> list[DeadJob]:
    """Every DEAD job with its error history, oldest first."""
    with session_scope(ctx.database_url) as session:
        rows = session.scalars(select(BatchJob).where(BatchJob.status == JobStatus.DEAD).order_by(BatchJob.id)).all()
        return [
            DeadJob(r.job_id, r.report_type, r.input_file_path, r.vendor_id, r.attempts, r.error_message,
                    [f"attempt {e.attempt}: {e.error_message}" for e in repo.job_errors(session, job_id=r.job_id)])
            for r in rows
        ]


def replay(ctx: FarmContext, publisher: Publisher, *, job_ids: list[str] | None) -> list[str]:
    """Queue DEAD jobs again (all of them when ``job_ids`` is None); returns the ids replayed.

    A job of a kind that is not ``replayable`` is left DEAD (ConfigurationError when it was
    named on its own).
    """
    replayed: list[repo.QueuedJob] = []
    with session_scope(ctx.database_url) as session:
        stmt = select(BatchJob).where(BatchJob.status == JobStatus.DEAD)
        if job_ids is not None:
            stmt = stmt.where(BatchJob.job_id.in_(job_ids))
        for job in session.scalars(stmt).all():
            if not kinds.for_stored_name(job.report_type).replayable:
                if job_ids is not None and len(job_ids) == 1:
                    raise ConfigurationError(f"job {job.job_id} is a {job.report_type} job, which is not replayable")
                continue
            if repo.fenced_update(session, job, status=JobStatus.QUEUED, version=job.version + 1, attempts=0,
                                  retry_count=0, completed_at=None, dispatched_at=repo.utc_now()):
                replayed.append(repo.QueuedJob(job.job_id, job.input_file_path, job.priority or "low",
                                               job.report_type))
    for job in replayed:
        publisher.publish(job)
    publisher.unpark({job.job_id for job in replayed})
    return [job.job_id for job in replayed]
