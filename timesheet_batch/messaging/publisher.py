"""Every message the farm publishes: a batch's chord, one job's message, the dead-letter queue.

:class:`CeleryPublisher` is the Celery side of :class:`timesheet_batch.jobs.publisher.Publisher`:
the job lifecycle hands it jobs, it finds their kind in the registry for the task name, the
arguments and the queue. Messages carry a storage key and a job id only; everything else is
read from the database by the worker, so the broker never holds record contents or personal data.
"""

from __future__ import annotations

import logging

from celery import Celery, chord
from kombu import Exchange, Queue

from timesheet_batch.db.repository import QueuedJob
from timesheet_batch.errors import BrokerUnavailableError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.discovery import DiscoveryResult
from timesheet_batch.messaging.app import app as farm_app
from timesheet_batch.states import PRIORITY_QUEUES

log = logging.getLogger(__name__)

SUMMARIZE_TASK = "timesheet_batch.summarize_batch"
#: Parked DEAD jobs. Not one of the farm's ``task_queues``, so no worker (not even one
#: started without ``-Q``) ever consumes it.
DEAD_QUEUE = Queue("dead", Exchange("dead", type="direct"), routing_key="dead")


def signature(job: QueuedJob, app: Celery = farm_app):
    """The message of one job: its kind's task and arguments, on its kind's queue or its own priority."""
    kind = kinds.for_stored_name(job.job_type)
    args, kwargs = kind.message(job)
    return app.signature(kind.task_name, args=args, kwargs=kwargs, queue=kind.queue or job.priority,
                         immutable=True)


class CeleryPublisher:
    """Publishes, parks and counts messages on the farm's broker."""

    def __init__(self, app: Celery = farm_app):
        self.app = app

    def publish(self, job: QueuedJob) -> None:
        signature(job, self.app).apply_async()

    def park(self, job: QueuedJob) -> None:
        kind = kinds.for_stored_name(job.job_type)
        with self.app.producer_or_acquire() as producer:
            producer.publish(
                {"task": kind.task_name, "key": job.input_key, "job_id": job.job_id},
                exchange=DEAD_QUEUE.exchange, routing_key="dead", declare=[DEAD_QUEUE],
                serializer="json", retry=True,
            )

    def unpark(self, job_ids: set[str]) -> None:
        if not job_ids:
            return
        with self.app.connection_for_write() as connection:
            queue = DEAD_QUEUE(connection.default_channel)
            queue.declare()
            keep = []
            while (message := queue.get(no_ack=False, accept=["json"])) is not None:
                if message.payload.get("job_id") not in job_ids:
                    keep.append(message.payload)
                message.ack()
            with self.app.producer_or_acquire() as producer:
                for payload in keep:
                    producer.publish(payload, exchange=DEAD_QUEUE.exchange, routing_key="dead",
                                     declare=[DEAD_QUEUE], serializer="json")

    def queue_depths(self) -> dict[str, int]:
        depths = {}
        with self.app.connection_for_read() as connection:
            channel = connection.default_channel
            for name in PRIORITY_QUEUES:
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # a queue nobody declared yet holds nothing
                    depths[name] = 0
        return depths

    def dead_queue_depth(self) -> int:
        """Messages parked in the dead-letter queue."""
        with self.app.connection_for_read() as connection:
            try:
                return connection.default_channel.queue_declare(queue="dead", passive=True).message_count
            except Exception:  # never declared: nothing was ever parked
                return 0


def dispatch_batch(result: DiscoveryResult, app: Celery = farm_app) -> int:
    """Publish the jobs discovery queued as one chord, then the summary; returns how many were published."""
    callback = app.signature(SUMMARIZE_TASK, args=(result.batch_id,), queue="high", immutable=True)
    if not result.queued:
        if result.summary_due:
            callback.apply_async()
        return 0
    header = [signature(job, app) for job in result.queued]
    chord(header)(callback)
    log.info("batch %s: dispatched %d task(s)", result.batch_id, len(header))
    return len(header)


def check_broker(url: str, *, timeout_s: float, app: Celery = farm_app) -> None:
    """Raise BrokerUnavailableError if the broker does not answer within ``timeout_s``."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
    except Exception as exc:  # kombu raises transport-specific errors; all mean "not reachable"
        raise BrokerUnavailableError(f"cannot reach the broker at {_redact(url)}: {exc}") from None


def _redact(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
