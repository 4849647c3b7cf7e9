"""The CLI's way to the broker: the farm's publisher, batch dispatch, a sweep, the broker check.

Every import of the Celery layer here is deferred, and only here: loading the Celery app reads
every setting and, on the embedded default, creates the broker's folders, which commands that
never touch the broker (``vendors check``, ``status``, ``db upgrade``) must not do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from timesheet_batch.errors import BrokerUnavailableError

T = TypeVar("T")

if TYPE_CHECKING:
    from timesheet_batch.jobs.discovery import DiscoveryResult
    from timesheet_batch.jobs.sweeper import SweepReport
    from timesheet_batch.messaging.publisher import CeleryPublisher


def publisher() -> CeleryPublisher:
    """The publisher the workers use too."""
    from timesheet_batch.messaging import tasks

    return tasks.publisher


def dispatch_batch(result: DiscoveryResult) -> int:
    """Publish a discovered batch (one chord and its summary)."""
    from timesheet_batch.messaging import publisher as messages

    return on_broker(lambda: messages.dispatch_batch(result))


def sweep_once() -> SweepReport:
    """One sweep with the real publisher, as beat runs it."""
    from timesheet_batch.messaging import tasks

    return on_broker(tasks.sweep_once)


def consumers() -> int | None:
    """How many workers consume at least one of the farm's queues (None: the broker cannot tell)."""
    from timesheet_batch.messaging import publisher as messages

    return on_broker(messages.count_consumers)


def on_broker(step: Callable[[], T]) -> T:
    """``step()``, with the broker's own errors as BrokerUnavailableError (transient: a command
    watching the farm rides through it, others exit 3)."""
    from timesheet_batch.messaging import publisher as messages

    try:
        return step()
    except messages.broker_errors() as exc:
        raise BrokerUnavailableError(f"broker error: {str(exc).strip()[:300] or type(exc).__name__}") from None


def check_broker(url: str, *, timeout_s: float) -> None:
    """BrokerUnavailableError unless the broker answers within ``timeout_s``."""
    from timesheet_batch.messaging import publisher as messages

    messages.check_broker(url, timeout_s=timeout_s)
