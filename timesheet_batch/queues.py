"""Queue depths per priority, from the broker and from the database's job states."""

from __future__ import annotations

from sqlalchemy import func, select

from timesheet_batch.celery_config import PRIORITY_QUEUES
from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.states import JobStatus


def broker_depths() -> dict[str, int]:
    """Messages waiting in each priority queue (any kombu transport)."""
    from timesheet_batch.celery_app import app

    depths = {}
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for name in PRIORITY_QUEUES:
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except Exception:  # a queue nobody declared yet holds nothing
                depths[name] = 0
    return depths


def queue_depths(ctx: FarmContext) -> dict[str, dict[str, int]]:
    """Per priority: broker messages, and jobs QUEUED / PROCESSING / RETRYING in the database."""
    waiting = broker_depths()
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
