"""Celery tasks: thin wrappers that load ids, call the farm, and map errors to retries.

Retry policy (``retry_policy``): transient errors retry with exponential backoff and
jitter up to ``TIMESHEET_MAX_RETRIES`` times, then the job is DEAD; permanent errors were
already turned into FAILED by the job runner. File tasks always *return* (never raise
after their last attempt) so one bad file cannot break the batch's chord.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os

from celery import Task, signals

from timesheet_batch import dead_letter, jobrunner, shutdown, summary
from timesheet_batch.celery_app import app
from timesheet_batch.celery_config import (
    BOOKKEEPING_HARD_LIMIT_S,
    BOOKKEEPING_SOFT_LIMIT_S,
    FILE_TASK_HARD_LIMIT_S,
    FILE_TASK_SOFT_LIMIT_S,
)
from timesheet_batch.context import get_context
from timesheet_batch.discovery import discover_window
from timesheet_batch.dispatch import dispatch_batch
from timesheet_batch.errors import TimesheetBatchError
from timesheet_batch.retry_policy import Backoff, is_transient
from timesheet_batch.sweep_runner import sweep_once

log = logging.getLogger(__name__)
#: Retries of a task that could not even claim its job (database down): about 8 minutes.
PRE_CLAIM_RETRIES = 10


def _backoff() -> Backoff:
    return Backoff.from_settings(get_context().settings)


def _worker_id(task: Task) -> str:
    return f"{task.request.hostname or 'local'}:{os.getpid()}"


def _run_file_task(task: Task, key: str, job_id: str | None) -> dict:
    ctx = get_context()
    try:
        job_id = job_id or jobrunner.ensure_adhoc_job(ctx, key=key)
        outcome = jobrunner.run_file_job(ctx, job_id=job_id, worker_id=_worker_id(task))
    except jobrunner.TransientJobError as exc:
        return _after_transient_error(task, ctx, exc)
    except TimesheetBatchError as exc:
        if not exc.transient:  # e.g. an ad hoc key that escapes its folder
            return {"job_id": job_id, "status": "FAILED", "error": str(exc)}
        # The database or storage is down before the job was claimed: no attempt is spent.
        raise task.retry(countdown=_backoff().delay_s(task.request.retries), max_retries=PRE_CLAIM_RETRIES) from None
    if outcome.retry_in_s:  # another worker's lease is live; if it died, the lease runs out
        raise task.retry(countdown=outcome.retry_in_s, max_retries=None)
    if outcome.handed_back:  # a new message (same task id, same chord) for another worker
        raise task.retry(countdown=0, max_retries=None)
    if outcome.exhausted:  # e.g. a poison file that killed its worker on every attempt
        dead_letter.park(task.app, task_name=task.name, key=key, job_id=job_id)
    return outcome.as_dict()


def _after_transient_error(task: Task, ctx, exc: jobrunner.TransientJobError) -> dict:
    """Retry with backoff, or after the last attempt park the job DEAD in the dead-letter queue."""
    job_id, attempts = exc.held.job_id, exc.held.attempts
    if attempts > ctx.settings.max_retries:
        log.warning("job %s: retries exhausted after %d attempts: DEAD", job_id, attempts)
        try:
            outcome = jobrunner.give_up(ctx, exc)
        except Exception as inner:
            if not is_transient(inner):
                raise
            # Cannot record it now: the next delivery finds the attempts spent and parks it.
            raise task.retry(countdown=_backoff().delay_s(attempts), max_retries=None) from None
        dead_letter.park(task.app, task_name=task.name, key=task.request.args[0], job_id=job_id)
        return outcome.as_dict()
    with contextlib.suppress(Exception):  # if the database is down the lease runs out instead
        jobrunner.hand_back(ctx, exc)
    delay = _backoff().delay_s(attempts - 1)
    log.warning("job %s: transient %s, retry %d in %.1fs", job_id, type(exc.cause).__name__, attempts, delay)
    raise task.retry(countdown=delay, max_retries=None) from None


_FILE_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": FILE_TASK_SOFT_LIMIT_S,
    "time_limit": FILE_TASK_HARD_LIMIT_S,
}


@app.task(name="timesheet_batch.process_file", **_FILE_TASK_OPTIONS)
def process_file(self: Task, key: str, job_id: str | None = None) -> dict:
    """Parse, validate, map and store one inbound file (``inbound/{date}/{vendor}/{file}``)."""
    return _run_file_task(self, key, job_id)


@app.task(name="timesheet_batch.export_file", **_FILE_TASK_OPTIONS)
def export_file(self: Task, key: str, job_id: str | None = None) -> dict:
    """Write one processed file as the vendor's outbound file, masked for the vendor's role."""
    return _run_file_task(self, key, job_id)


_BOOKKEEPING = {"bind": True, "acks_late": True, "soft_time_limit": BOOKKEEPING_SOFT_LIMIT_S,
                "time_limit": BOOKKEEPING_HARD_LIMIT_S}


@app.task(name="timesheet_batch.summarize_batch", max_retries=5, **_BOOKKEEPING)
def summarize_batch(self: Task, *args, batch_id: str | None = None) -> dict | None:
    """Chord callback: record and write the batch summary (once per batch).

    As a chord callback it receives the header results first; the batch id is the last
    positional argument (or ``batch_id``).
    """
    batch_id = batch_id or args[-1]
    try:
        result = summary.summarize_batch(get_context(), batch_id=batch_id)
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise self.retry(exc=exc, countdown=_backoff().delay_s(self.request.retries)) from None
    if result is None:
        return None
    # Dependent jobs (reports) by rule: exactly once per batch, and never raising, so a
    # failure there cannot undo or retry the summary that was just recorded.
    from timesheet_batch.report_tasks import fire_after_batch

    dependents = fire_after_batch(batch_id)
    return {"batch_id": batch_id, "status": result.status, "dependents": dependents}


@app.task(name="timesheet_batch.discover", max_retries=5, **_BOOKKEEPING)
def discover(self: Task, window: str, date: str | None = None) -> dict:
    """Record the window's batch and jobs (idempotent) and dispatch them."""
    ctx = get_context()
    business_date = dt.date.fromisoformat(date) if date else ctx.settings.today()
    try:
        result = discover_window(ctx, window=window, business_date=business_date)
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise self.retry(exc=exc, countdown=_backoff().delay_s(self.request.retries)) from None
    published = dispatch_batch(result)
    return {"batch_id": result.batch_id, "files": result.total_files, "dispatched": published}


@signals.worker_shutting_down.connect
def _start_grace_period(**_) -> None:
    """Warm shutdown began: pool processes hand their jobs back after the grace period."""
    shutdown.request_shutdown(grace_s=get_context().settings.shutdown_grace_s)


@signals.worker_shutdown.connect
def _end_grace_period(**_) -> None:
    shutdown.clear()


@app.task(name="timesheet_batch.sweep", ignore_result=True, **_BOOKKEEPING)
def sweep(self: Task) -> dict:
    """Re-dispatch jobs whose worker or message was lost; fire lost summaries."""
    report = sweep_once(get_context())
    return {"expired": len(report.expired), "redispatched": len(report.redispatched),
            "dead": len(report.dead), "summarized": len(report.summarized)}


@app.task(name="timesheet_batch.ping", acks_late=True)
def ping() -> str:
    """Does nothing: a health check, and the no-op reference of the benchmarks."""
    return "pong"
