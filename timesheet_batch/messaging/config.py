"""Celery configuration derived from the one Settings object.

``celeryconfig.py`` at the top of the repository exposes these keys to Celery; this module
is where each value is chosen and why.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from timesheet_batch.jobs.kinds import MAX_TIME_LIMIT_S
from timesheet_batch.settings import Settings
from timesheet_batch.states import PRIORITY_QUEUES

#: Redis redelivers an unacked message after this long: above every job task's hard time
#: limit (a kind's ``time_limit_s`` is at most MAX_TIME_LIMIT_S).
VISIBILITY_TIMEOUT_S = 2 * MAX_TIME_LIMIT_S
#: Results must outlive a window (and the next one) for Flower and chord bookkeeping.
RESULT_EXPIRES_S = 3 * 24 * 60 * 60


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Every Celery key the farm sets, from the settings."""
    return {
        "broker_url": settings.effective_broker_url,
        "result_backend": settings.effective_result_backend,
        "broker_transport_options": _transport_options(settings),
        "broker_connection_timeout": settings.service_timeout_s,
        "broker_connection_retry_on_startup": True,
        # JSON only: a pickle payload would run code on the worker.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # At-least-once: ack after the task ran, give the message back if the child died.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Prefetch one: a worker holding a backlog of low files would delay high ones.
        "worker_prefetch_multiplier": 1,
        "task_queues": tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in PRIORITY_QUEUES),
        "task_default_queue": "medium",
        "task_default_exchange": "medium",
        "task_default_routing_key": "medium",
        "task_routes": ("timesheet_batch.messaging.routing.route_task",),
        "task_create_missing_queues": False,
        "result_expires": RESULT_EXPIRES_S,
        "result_extended": False,  # would copy task arguments into the result backend
        "result_chord_retry_interval": 0.25,
        "redis_socket_connect_timeout": settings.service_timeout_s,
        # Task events cost three extra publishes per task (received, started, succeeded): about
        # 1.4 ms of worker CPU per task here, a third of a no-op task (BENCHMARKS.md), and only
        # a monitor reads them. Flower switches them on in the running workers itself (its
        # --enable_events, on by default, sends enable_events every few seconds); `celery
        # control enable_events` does it by hand. The publisher's own "sent" event is off too:
        # it cost a third of dispatch time (BENCHMARKS.md).
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_max_memory_per_child": 1_500_000,  # KiB: recycle a child that grew past 1.5 GB
        "timezone": settings.timezone,
        "enable_utc": True,
        "beat_schedule_filename": str(settings.beat_schedule_path),
        "worker_hijack_root_logger": True,
    }


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.is_embedded_broker:
        folder = settings.embedded_broker_dir
        for sub in ("queue", "control", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # The default 1 s poll makes a chord of 200 tasks take 100 s (measured; docs/architecture.md).
            "polling_interval": 0.02,
        }
    return {
        "queue_order_strategy": "priority",
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "socket_connect_timeout": settings.service_timeout_s,
        # No socket_timeout here: the broker check (publisher.check_broker) has its own read
        # timeout, and with one on the workers' connections a Redis restart once took a worker
        # down through kombu's close path (RELIABILITY.md, "Known limits").
    }
