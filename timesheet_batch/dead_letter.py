"""The dead-letter queue: DEAD jobs parked where no worker consumes, listed and replayed.

The database is the record (a DEAD job with its error history); the ``dead`` queue holds
one message per parked job (task name, key, job id) so operators see them in the broker
and Flower. ``dead`` is not one of the farm's ``task_queues``, so no worker — not even one
started without ``-Q`` — ever consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue
from sqlalchemy import select, update

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.dispatch import publish_job
from timesheet_batch.job_types import task_name_for
from timesheet_batch.states import JobStatus

DEAD_QUEUE = Queue("dead", Exchange("dead", type="direct"), routing_key="dead")


def park(app, *, task_name: str, key: str, job_id: str) -> None:
    """Publish the dead job's message to the dead-letter queue (ids and key only)."""
    with app.producer_or_acquire() as producer:
        producer.publish(
            {"task": task_name, "key": key, "job_id": job_id},
            exchange=DEAD_QUEUE.exchange, routing_key="dead", declare=[DEAD_QUEUE],
            serializer="json", retry=True,
        )


def park_job(app, job: repo.QueuedJob) -> None:
    """Park a job the sweeper found DEAD."""
    park(app, task_name=task_name_for(job.job_type), key=job.input_key, job_id=job.job_id)


@dataclass(frozen=True)
class DeadJob:
    """A DEAD job as ``dead-letter list`` shows it."""

    job_id: str
    input_file_path: str
    vendor_id: str | None
    attempts: int
    error_message: str | None
    errors: list[str]


def list_dead(ctx: FarmContext) -> list[DeadJob]:
    """Every DEAD job with its error history, oldest first."""
    with session_scope(ctx.database_url) as session:
        rows = session.scalars(select(BatchJob).where(BatchJob.status == JobStatus.DEAD).order_by(BatchJob.id)).all()
        return [
            DeadJob(r.job_id, r.input_file_path, r.vendor_id, r.attempts, r.error_message,
                    [f"attempt {e.attempt}: {e.error_message}" for e in repo.job_errors(session, job_id=r.job_id)])
            for r in rows
        ]


def replay(app, ctx: FarmContext, *, job_ids: list[str] | None) -> list[str]:
    """Queue DEAD jobs again (all of them when ``job_ids`` is None); returns the ids replayed."""
    replayed = []
    with session_scope(ctx.database_url) as session:
        stmt = select(BatchJob).where(BatchJob.status == JobStatus.DEAD)
        if job_ids is not None:
            stmt = stmt.where(BatchJob.job_id.in_(job_ids))
        for job in session.scalars(stmt).all():
            reset = session.execute(
                update(BatchJob)
                .where(BatchJob.id == job.id, BatchJob.version == job.version, BatchJob.status == JobStatus.DEAD)
                .values(status=JobStatus.QUEUED, version=job.version + 1, attempts=0, retry_count=0,
                        completed_at=None, dispatched_at=repo.utc_now())
            )
            if reset.rowcount == 1:
                replayed.append((job.job_id, job.input_file_path, job.priority or "low", job.report_type))
    for job_id, key, priority, job_type in replayed:
        publish_job(repo.QueuedJob(job_id, key, priority, job_type))
    _drop_messages(app, {job_id for job_id, *_ in replayed})
    return [job_id for job_id, *_ in replayed]


def _drop_messages(app, job_ids: set[str]) -> None:
    """Remove the replayed jobs' messages from the dead-letter queue, keep the others."""
    if not job_ids:
        return
    with app.connection_for_write() as connection:
        queue = DEAD_QUEUE(connection.default_channel)
        queue.declare()
        keep = []
        while (message := queue.get(no_ack=False, accept=["json"])) is not None:
            if message.payload.get("job_id") not in job_ids:
                keep.append(message.payload)
            message.ack()
        with app.producer_or_acquire() as producer:
            for payload in keep:
                producer.publish(payload, exchange=DEAD_QUEUE.exchange, routing_key="dead",
                                 declare=[DEAD_QUEUE], serializer="json")


def dead_queue_depth(app) -> int:
    """Messages parked in the dead-letter queue."""
    with app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue="dead", passive=True).message_count
        except Exception:  # never declared: nothing was ever parked
            return 0
