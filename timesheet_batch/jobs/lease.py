"""The lease a worker holds on a running job, renewed in the background.

A SIGKILLed worker stops renewing, so its lease expires within ``lease_s`` and the job can
be claimed again (by the redelivered message or the sweeper). Renewal also notices when
the job was cancelled or taken over, so the runner can stop at the next chunk.

One renewer thread per process serves every lease held in it: starting a thread per job
cost ~1.5 ms per file on a busy 2-core machine (``Thread.start`` waits for the new thread
to get the GIL), which is a tenth of a small file's time. A pool process runs one job at a
time, so renewals never queue behind each other.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from timesheet_batch.db import claims
from timesheet_batch.db.engine import autocommit_connection
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
        self.next_due = 0.0

    def renew(self) -> bool:
        """Renew once (called by the renewer thread); False once the job is no longer ours."""
        try:
            # Not durable: a renewal a database crash undoes is redone at the next period.
            with autocommit_connection(self.database_url) as connection:
                status = claims.renew_lease(connection, job_id=self.job_id, version=self.version,
                                            lease_s=self.lease_s)
        except Exception as exc:  # a database blip: the next renewal may work
            log.warning("job %s: lease renewal failed (%s)", self.job_id, type(exc).__name__)
            return True
        if status != JobStatus.PROCESSING:
            self.lost_status = status or "TAKEN_OVER"
            return False
        return True

    def __enter__(self) -> LeaseKeeper:
        _renewer().add(self)
        return self

    def __exit__(self, *exc) -> None:
        _renewer().remove(self)


class _Renewer:
    """The process's renewer thread: renews each registered lease when it is due."""

    def __init__(self) -> None:
        self._leases: dict[int, LeaseKeeper] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        #: When the thread wakes next unless notified (None: only when notified).
        self._wake_at: float | None = None

    def add(self, keeper: LeaseKeeper) -> None:
        """Start renewing ``keeper`` (first renewal after ``lease_s / 3``)."""
        with self._changed:
            keeper.next_due = time.monotonic() + keeper.lease_s / 3
            self._leases[id(keeper)] = keeper
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
            # Wake the thread only if it would sleep past this lease's first renewal: jobs
            # that follow each other are due later than the wake-up already set, and two
            # wake-ups per job (a GIL hand-over each) were measurable on small files.
            if self._wake_at is None or keeper.next_due < self._wake_at:
                self._changed.notify()

    def remove(self, keeper: LeaseKeeper) -> None:
        """Stop renewing ``keeper``. A renewal already under way may still finish: it is fenced
        by version and status, so it cannot touch a job that was finished meanwhile.

        The thread is not woken: at its next wake-up it finds the lease gone and sleeps on.
        """
        with self._changed:
            self._leases.pop(id(keeper), None)

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._wait_for_due()
            for keeper in due:
                alive = keeper.renew()
                with self._changed:
                    if not alive:
                        self._leases.pop(id(keeper), None)
                    keeper.next_due = time.monotonic() + keeper.lease_s / 3

    def _wait_for_due(self) -> list[LeaseKeeper]:
        """Block (holding the condition) until a lease is due; the due ones."""
        while True:
            now = time.monotonic()
            due = [k for k in self._leases.values() if k.next_due <= now]
            if due:
                return due
            self._wake_at = min((k.next_due for k in self._leases.values()), default=None)
            self._changed.wait(None if self._wake_at is None else self._wake_at - now)


_renewers: dict[int, _Renewer] = {}
_renewers_lock = threading.Lock()


def _renewer() -> _Renewer:
    """This process's renewer (a forked child never uses its parent's, whose thread it lacks)."""
    pid = os.getpid()
    with _renewers_lock:
        renewer = _renewers.get(pid)
        if renewer is None:
            renewer = _renewers[pid] = _Renewer()
        return renewer
