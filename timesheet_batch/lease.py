"""The lease a worker holds on a running job, renewed in the background.

A SIGKILLed worker stops renewing, so its lease expires within ``lease_s`` and the job can
be claimed again (by the redelivered message or the sweeper). Renewal also notices when
the job was cancelled or taken over, so the runner can stop at the next chunk.
"""

from __future__ import annotations

import logging
import threading

from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.states import JobStatus

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews ``job_id``'s lease every ``lease_s / 3`` seconds while the block runs."""

    def __init__(self, database_url: str, *, job_id: str, version: int, lease_s: float):
        self.database_url = database_url
        self.job_id = job_id
        self.version = version
        self.lease_s = lease_s
        self.lost_status: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id[:8]}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                with session_scope(self.database_url) as session:
                    status = repo.renew_lease(session, job_id=self.job_id, version=self.version, lease_s=self.lease_s)
            except Exception as exc:  # a database blip: the next renewal may work
                log.warning("job %s: lease renewal failed (%s)", self.job_id, type(exc).__name__)
                continue
            if status != JobStatus.PROCESSING:
                self.lost_status = status or "TAKEN_OVER"
                return

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
