"""Riding through outages: a command that watches the farm keeps watching while the broker or
the database is briefly away (a failover, a restart), as the workers do.

A step that fails with a transient error is retried with backoff until it succeeds or the
outage has lasted ``tolerance_s``; the caller is told once that it is waiting and on what,
and once when the service is back. Exit 3 then means the outage outlasted the tolerance, not
that a service blinked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from timesheet_batch.errors import ServiceUnavailableError
from timesheet_batch.jobs.retry_policy import Backoff, is_transient

T = TypeVar("T")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class OutageRider:
    """Runs watching steps; one outage spans every step until one succeeds."""

    def __init__(self, tolerance_s: float, *, backoff: Backoff | None = None,
                 say: Callable[[str], None] = _to_stderr, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.tolerance_s = tolerance_s
        self.backoff = backoff or Backoff(base_s=0.5, cap_s=10.0)
        self.say = say
        self.clock = clock
        self.sleep = sleep
        self.outage_since: float | None = None
        self.outages = 0  # how many outages it rode through (for tests and summaries)

    def call(self, step: Callable[[], T], *, what: str) -> T:
        """``step()``, retried through transient errors for up to the tolerance."""
        tries = 0
        while True:
            try:
                result = step()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._wait(exc, what=what, tries=tries)
                tries += 1
                continue
            if self.outage_since is not None:
                self.say(f"timesheet-batch: {what}: back after {self.clock() - self.outage_since:.0f}s; carrying on")
                self.outage_since = None
            return result

    def _wait(self, exc: BaseException, *, what: str, tries: int) -> None:
        now = self.clock()
        reason = _one_line(exc)
        if self.outage_since is None:
            self.outage_since = now
            self.outages += 1
            self.say(f"timesheet-batch: {what}: {reason}; waiting up to {self.tolerance_s:.0f}s "
                     f"(TIMESHEET_OUTAGE_TOLERANCE_S) for it to come back")
        if now - self.outage_since >= self.tolerance_s:
            raise ServiceUnavailableError(
                f"{what}: still failing after {now - self.outage_since:.0f}s "
                f"(TIMESHEET_OUTAGE_TOLERANCE_S={self.tolerance_s:.0f}): {reason}") from None
        remaining = self.tolerance_s - (now - self.outage_since)
        self.sleep(max(0.0, min(self.backoff.delay_s(tries), remaining)))


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0][:300] if text else type(exc).__name__)
