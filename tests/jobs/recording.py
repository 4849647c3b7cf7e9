"""A publisher that keeps what the job lifecycle sends, for tests of that Celery-free layer.

The lifecycle's only way to a broker is the ``Publisher`` it is handed; the tests that cross
a process boundary use the real one on Redis, these look at what would have been sent.
"""

from __future__ import annotations

import threading

from timesheet_batch.db.repository import QueuedJob


class RecordingPublisher:
    """Records published and parked jobs; ``depths`` are the queue depths it reports."""

    def __init__(self, depths: dict[str, int] | None = None):
        self.depths = depths or {}
        self.published: list[QueuedJob] = []
        self.parked: list[QueuedJob] = []
        self.unparked: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, job: QueuedJob) -> None:
        with self._lock:
            self.published.append(job)

    def park(self, job: QueuedJob) -> None:
        with self._lock:
            self.parked.append(job)

    def unpark(self, job_ids: set[str]) -> None:
        self.unparked |= job_ids

    def queue_depths(self) -> dict[str, int]:
        return dict(self.depths)
