"""What the two file kinds share: a storage key as their parameter, a job per file, the
vendor's queue, and a message that carries the key (so ``celery call`` can name a file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError, TimesheetBatchError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.kinds import JobKind, JobResult, JobRun, Submission
from timesheet_batch.states import JobStatus
from timesheet_batch.storage import layout
from timesheet_batch.vendors import VendorCatalog

#: Storage area (the key's first folder) -> the file kind that reads it.
_KIND_OF_AREA: dict[str, str] = {}


class FileParams(BaseModel):
    """One stored file, by key (``inbound/{date}/{vendor}/{file}`` or ``processed/...``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=500)


def file_message(job: repo.QueuedJob) -> tuple[tuple, dict]:
    """``(key,), {"job_id": ...}``: the key first, as ``celery call`` and the router expect."""
    return (job.input_key,), {"job_id": job.job_id}


def describe_file(catalog: VendorCatalog, *, key: str, job_type: str, fingerprint: str | None = None) -> repo.NewJob:
    """The job for one key; a key of no known vendor becomes a job that already failed."""
    try:
        vendor = catalog.get(layout.parse_file_key(key).vendor_id)
    except TimesheetBatchError as exc:
        return repo.NewJob(job_type, key, None, "low", None, None, failed_reason=str(exc), fingerprint=fingerprint)
    side = getattr(vendor, _PROFILE_SIDE[job_type])
    return repo.NewJob(job_type, key, vendor.id, vendor.priority, side.format, vendor.role, fingerprint=fingerprint)


_PROFILE_SIDE: dict[str, str] = {}


def file_kind(*, name: str, task_name: str, description: str, area: str, window: str, profile_side: str,
              list_prefix: Callable[[dt.date], str], run: Callable[[JobRun], JobResult],
              suffix: str = "") -> JobKind:
    """Register a kind that processes one stored file of ``area``, discovered by ``window``."""
    _KIND_OF_AREA[area] = name
    _PROFILE_SIDE[name] = profile_side  # which side of the vendor profile describes the file

    def discover(ctx: FarmContext, business_date: dt.date) -> list[repo.NewJob]:
        return [describe_file(ctx.catalog, key=info.key, job_type=name, fingerprint=info.fingerprint)
                for info in ctx.storage.list(list_prefix(business_date)) if info.key.endswith(suffix)]

    return kinds.register(JobKind(
        name=name, task_name=task_name, description=description, params=FileParams, create=create_file_job,
        run=run, message=file_message, window=window, discover=discover, adhoc=adhoc_file_job,
    ))


def create_file_job(ctx: FarmContext, params: FileParams, *, job_id: str | None = None) -> Submission:
    """A job outside any batch for one file, of the kind that reads the key's area."""
    key = layout.safe_key(params.key)
    parsed = layout.parse_file_key(key)
    kind_name = _KIND_OF_AREA.get(parsed.area)
    if kind_name is None:
        raise ConfigurationError(f"key {key[:80]!r} is in no area a file kind reads ({', '.join(_KIND_OF_AREA)})")
    new_job = describe_file(ctx.catalog, key=key, job_type=kind_name)
    with session_scope(ctx.database_url) as session:
        row = repo.get_job(session, job_id=job_id) if job_id else None
        if row is None:
            row = repo.add_adhoc_job(session, job=new_job, business_date=parsed.business_date, job_id=job_id)
        queued = repo.QueuedJob(row.job_id, key, row.priority or "low", row.report_type)
        return Submission(row.job_id, publish=row.status == JobStatus.QUEUED, queued=queued)


def adhoc_file_job(ctx: FarmContext, args: tuple, kwargs: dict, job_id: str) -> str:
    """The job of a message that names a file but no job (``celery call``), under the message's
    task id (a redelivered copy finds the same job)."""
    key = args[0] if args else kwargs.get("key")
    try:
        params = FileParams.model_validate({"key": key if isinstance(key, str) else ""})
    except ValueError:  # pydantic's ValidationError: no key, an empty or an over-long one
        raise ConfigurationError("a file message needs its storage key (1 to 500 characters)") from None
    return create_file_job(ctx, params, job_id=job_id).job_id


def business_date_of(job) -> dt.date:
    """The job's business date: its row's, or the one in its key (an ad hoc job has both)."""
    return job.business_date or layout.parse_file_key(job.input_file_path).business_date
