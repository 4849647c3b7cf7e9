"""Every message the farm publishes: a batch's chord, one job's message, the dead-letter queue.

:class:`CeleryPublisher` is the Celery side of :class:`timesheet_batch.jobs.publisher.Publisher`:
the job lifecycle hands it jobs, it finds their kind in the registry for the task name, the
arguments and the queue. Messages carry a storage key and a job id only; everything else is
read from the database by the worker, so the broker never holds record contents or personal data.
"""

from __future__ import annotations

import logging

import redis
from celery import Celery, chord
from kombu import Exchange, Queue
from kombu.exceptions import ChannelError

from timesheet_batch.db.repository import QueuedJob
from timesheet_batch.errors import BrokerUnavailableError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.discovery import DiscoveryResult
from timesheet_batch.messaging.app import app as farm_app
from timesheet_batch.states import PRIORITY_QUEUES

log = logging.getLogger(__name__)

SUMMARIZE_TASK = "timesheet_batch.summarize_batch"
#: The summary callback's errback: a failed file fails the chord, which then calls this instead.
SUMMARIZE_FAILED_TASK = "timesheet_batch.summarize_failed_batch"
#: Parked DEAD jobs. Not one of the farm's ``task_queues``, so no worker (not even one
#: started without ``-Q``) ever consumes it.
DEAD_QUEUE = Queue("dead", Exchange("dead", type="direct"), routing_key="dead")


def signature(job: QueuedJob, app: Celery = farm_app):
    """The message of one job: its kind's task and arguments, on its kind's queue or its own priority."""
    kind = kinds.for_stored_name(job.job_type)
    args, kwargs = kind.message(job)
    # The task id is the job id: Flower's task list and ``timesheet-batch status`` name the
    # same thing, and a job's Celery result (FAILURE for a failed file) is found by its id.
    return app.signature(kind.task_name, args=args, kwargs=kwargs, queue=kind.queue or job.priority,
                         immutable=True, task_id=job.job_id)


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
                except ChannelError:  # a queue nobody declared yet holds nothing (an outage raises)
                    depths[name] = 0
        return depths

    def dead_queue_depth(self) -> int:
        """Messages parked in the dead-letter queue."""
        with self.app.connection_for_read() as connection:
            try:
                return connection.default_channel.queue_declare(queue="dead", passive=True).message_count
            except ChannelError:  # never declared: nothing was ever parked
                return 0


def dispatch_batch(result: DiscoveryResult, app: Celery = farm_app) -> int:
    """Publish the jobs discovery queued as one chord, then the summary; returns how many were published."""
    callback = app.signature(SUMMARIZE_TASK, args=(result.batch_id,), queue="high", immutable=True)
    # A file that ended FAILED or DEAD is a failed task, and a chord with a failed part calls its
    # callback's errbacks instead of the callback. Keyword-only batch id: Celery sends this
    # errback as its own task, with the callback's id as its one argument.
    callback.on_error(app.signature(SUMMARIZE_FAILED_TASK, kwargs={"batch_id": result.batch_id}, queue="high"))
    if not result.queued:
        if result.summary_due:
            callback.apply_async()
        return 0
    header = [signature(job, app) for job in result.queued]
    chord(header)(callback)
    log.info("batch %s: dispatched %d task(s)", result.batch_id, len(header))
    return len(header)


def count_consumers(app: Celery = farm_app, timeout_s: float = 1.0) -> int | None:
    """Workers consuming one of the farm's queues, by asking them (None: the embedded broker
    has no broadcast, so it cannot tell)."""
    if app.conf.broker_url.startswith("embedded"):
        return None
    replies = app.control.inspect(timeout=timeout_s).active_queues() or {}
    return sum(1 for queues in replies.values() if any(q.get("name") in PRIORITY_QUEUES for q in queues or ()))


def broker_errors() -> tuple[type[BaseException], ...]:
    """What kombu and redis-py raise when the broker is away (none is a builtin ConnectionError)."""
    from kombu.exceptions import OperationalError as KombuOperationalError

    return (KombuOperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            ConnectionError, TimeoutError)


def check_broker(url: str, *, timeout_s: float, app: Celery = farm_app) -> None:
    """Raise BrokerUnavailableError if the broker does not answer within about ``timeout_s``:
    a port that accepts connections but never replies counts as not answering (a read timeout
    as well as a connect timeout)."""
    try:
        if url.startswith(("redis://", "rediss://")):
            # kombu's ensure_connection only connects; PING proves the server answers.
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
            try:
                client.ping()
            finally:
                client.close()
            return
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
