"""Discovery: list a window's files and record one job per file (idempotent).

Morning lists ``inbound/{date}/``; nightly lists ``processed/{date}/``. A file that is
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
from timesheet_batch.errors import ConfigurationError, TimesheetBatchError
from timesheet_batch.job_types import FILE_JOB_TYPES
from timesheet_batch.states import TERMINAL_JOB_STATES, JobType, Window
from timesheet_batch.storage import layout
from timesheet_batch.vendors import VendorCatalog


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
    """One NewJob per file of the window, in key order."""
    if window == Window.MORNING:
        prefix, job_type = layout.inbound_prefix(business_date), JobType.PROCESS_FILE
    elif window == Window.NIGHTLY:
        prefix, job_type = layout.processed_prefix(business_date), JobType.EXPORT_FILE
    else:
        raise ConfigurationError(f"unknown window {window!r}: use morning or nightly")
    jobs = []
    for info in ctx.storage.list(prefix):
        if job_type == JobType.EXPORT_FILE and not info.key.endswith(layout.PROCESSED_SUFFIX):
            continue
        jobs.append(describe_file(ctx.catalog, key=info.key, job_type=job_type, fingerprint=info.fingerprint))
    return jobs


def describe_file(
    catalog: VendorCatalog, *, key: str, job_type: str, fingerprint: str | None = None
) -> repo.NewJob:
    """The job for one key; a key of no known vendor becomes a job that already failed."""
    try:
        vendor = catalog.get(layout.parse_file_key(key).vendor_id)
    except TimesheetBatchError as exc:
        return repo.NewJob(job_type, key, None, "low", None, None, failed_reason=str(exc), fingerprint=fingerprint)
    side = getattr(vendor, FILE_JOB_TYPES[job_type].profile_side)
    return repo.NewJob(job_type, key, vendor.id, vendor.priority, side.format, vendor.role, fingerprint=fingerprint)


def job_type_for_key(key: str) -> str:
    """PROCESS_FILE for an inbound key, EXPORT_FILE for a processed one."""
    area = layout.parse_file_key(key).area
    return JobType.PROCESS_FILE if area == layout.INBOUND else JobType.EXPORT_FILE
