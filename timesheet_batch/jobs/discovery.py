"""Discovery: list a window's inputs and record one job per input (idempotent).

The kind registered for the window lists them (the morning's inbound files under
``inbound/{date}/``, the nightly's processed files under ``processed/{date}/``). An input
already known to be bad (unknown vendor, unsafe name) gets a FAILED job with its reason
right here, so it fails alone and costs no task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.jobs import kinds
from timesheet_batch.states import TERMINAL_JOB_STATES


@dataclass(frozen=True)
class DiscoveryResult:
    """The batch, the jobs to dispatch now, and whether the summary can fire at once."""

    batch_id: str
    business_date: dt.date
    window: str
    total_files: int
    queued: list[repo.QueuedJob]
    summary_due: bool


def discover_window(ctx: FarmContext, *, window: str, business_date: dt.date) -> DiscoveryResult:
    """Record the batch and its jobs; a second call for the same window and date adds nothing.

    Two emitters racing (two beats, a beat and an operator) collide on the unique keys;
    the loser starts over and then finds everything recorded.
    """
    files = list_window_files(ctx, window=window, business_date=business_date)
    for attempt in range(3):
        try:
            return _record(ctx, window, business_date, files)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _record(ctx: FarmContext, window: str, business_date: dt.date, files: list[repo.NewJob]) -> DiscoveryResult:
    with session_scope(ctx.database_url) as session:
        batch = repo.get_or_create_batch(session, window=window, business_date=business_date)
        queued = repo.add_jobs(session, batch=batch, jobs=files)
        counts = repo.job_counts(session, batch_id=batch.id)
        unfinished = sum(n for s, n in counts.items() if s not in TERMINAL_JOB_STATES)
        return DiscoveryResult(
            batch_id=batch.id,
            business_date=business_date,
            window=window,
            total_files=batch.total_files,
            queued=queued,
            summary_due=unfinished == 0 and batch.summarized_at is None,
        )


def list_window_files(ctx: FarmContext, *, window: str, business_date: dt.date) -> list[repo.NewJob]:
    """One NewJob per input of the window (its kind's ``discover``), in key order."""
    kind = kinds.for_window(window)
    return kind.discover(ctx, business_date)
