"""What the job lifecycle needs from a message broker, as a protocol.

The messaging layer implements it on Celery (``timesheet_batch.messaging.publisher``); the
lifecycle receives one from its caller, so it can publish, park and count messages without
importing Celery. Messages carry ids and storage keys only, never record contents.
"""

from __future__ import annotations

from typing import Protocol

from timesheet_batch.db.repository import QueuedJob


class Publisher(Protocol):
    """Sends the messages of jobs; every method may raise a transient broker error."""

    def publish(self, job: QueuedJob) -> None:
        """Send one job's message: its kind's task, on its queue."""

    def park(self, job: QueuedJob) -> None:
        """Put a DEAD job's message in the dead-letter queue (where no worker consumes)."""

    def unpark(self, job_ids: set[str]) -> None:
        """Remove these jobs' messages from the dead-letter queue, keep the others."""

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting in each priority queue."""
