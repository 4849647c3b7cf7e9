"""The CLI's way to the broker: the farm's publisher, batch dispatch, a sweep, the broker check.

Every import of the Celery layer here is deferred, and only here: loading the Celery app reads
every setting and, on the embedded default, creates the broker's folders, which commands that
never touch the broker (``vendors check``, ``status``, ``db upgrade``) must not do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

    return messages.dispatch_batch(result)


def sweep_once() -> SweepReport:
    """One sweep with the real publisher, as beat runs it."""
    from timesheet_batch.messaging import tasks

    return tasks.sweep_once()


def check_broker(url: str, *, timeout_s: float) -> None:
    """BrokerUnavailableError unless the broker answers within ``timeout_s``."""
    from timesheet_batch.messaging import publisher as messages

    messages.check_broker(url, timeout_s=timeout_s)
