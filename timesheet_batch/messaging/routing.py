"""Task routing: the farm's bookkeeping runs in ``high``; a job runs in its kind's queue, or in
its vendor's queue for kinds routed by vendor priority.

Dispatch names the queue explicitly (the job row knows its priority), which wins over this
router; the router serves ``celery call`` and other callers that only give a storage key.
"""

from __future__ import annotations

from typing import Any

from timesheet_batch.context import get_catalog
from timesheet_batch.errors import TimesheetBatchError
from timesheet_batch.jobs import kinds
from timesheet_batch.storage.layout import parse_file_key

HIGH_QUEUE_TASKS = frozenset(
    {
        "timesheet_batch.discover",
        "timesheet_batch.summarize_batch",
        "timesheet_batch.summarize_failed_batch",
        "timesheet_batch.sweep",
        "celery.chord_unlock",
    }
)
#: Where a job goes when its vendor is unknown: it will fail fast, let it not delay others.
FALLBACK_QUEUE = "low"


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict | None:
    """Celery router (``task_routes``)."""
    if name in HIGH_QUEUE_TASKS:
        return {"queue": "high"}
    kind = kinds.for_task(name)
    if kind is not None and kind.queue:
        return {"queue": kind.queue}
    if options and options.get("queue"):
        return None  # named by the caller, and it wins anyway: no key to parse (~0.1 ms a message)
    if kind is not None:
        key = args[0] if args else (kwargs or {}).get("key")
        return {"queue": queue_for_key(key)}
    return None


def queue_for_key(key: Any) -> str:
    """The queue of the vendor whose folder holds ``key``."""
    try:
        vendor_id = parse_file_key(str(key)).vendor_id
        return get_catalog().get(vendor_id).priority
    except TimesheetBatchError:
        return FALLBACK_QUEUE
