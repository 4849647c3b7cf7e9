"""Queue depths per priority: broker messages (from the publisher) and the database's job states."""

from __future__ import annotations

from sqlalchemy import func, select

from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.states import PRIORITY_QUEUES, JobStatus


def queue_depths(ctx: FarmContext, publisher: Publisher) -> dict[str, dict[str, int]]:
    """Per priority: broker messages, and jobs QUEUED / PROCESSING / RETRYING in the database."""
    waiting = publisher.queue_depths()
    states = (JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.RETRYING)
    with session_scope(ctx.database_url) as session:
        rows = session.execute(
            select(BatchJob.priority, BatchJob.status, func.count())
            .where(BatchJob.status.in_(list(states)))
            .group_by(BatchJob.priority, BatchJob.status)
        ).all()
    result = {name: {"messages": waiting.get(name, 0), **{s.lower(): 0 for s in states}} for name in PRIORITY_QUEUES}
    for priority, status, count in rows:
        if priority in result:
            result[priority][status.lower()] = count
    return result
