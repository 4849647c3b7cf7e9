"""Celery tasks for reports: thin wrappers over ``timesheet_batch.reports.runner``.

``timesheet_batch.generate_report`` runs one report job: by ``job_id`` (dependents, the CLI)
or by ``report_type`` / ``role`` / ``date`` (beat, ``celery call``), which first finds or
creates the one job of that report and period — so two beats, or a beat and a dependency,
never produce two reports. Transient errors retry with backoff; a report never raises past
its last attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from celery import Task

from timesheet_batch.celery_app import app
from timesheet_batch.context import get_context
from timesheet_batch.errors import ConfigurationError, TimesheetBatchError
from timesheet_batch.reports import runner
from timesheet_batch.retry_policy import Backoff

log = logging.getLogger(__name__)


def _backoff() -> Backoff:
    return Backoff.from_settings(get_context().settings)


def publish_report(job_id: str) -> None:
    """Send one report job's message (a dependent, or a job the CLI queued)."""
    generate_report.apply_async(kwargs={"job_id": job_id}, queue="high")


@app.task(name="timesheet_batch.generate_report", bind=True, acks_late=True, max_retries=None)
def generate_report(self: Task, report_type: str | None = None, date: str | None = None, role: str | None = None,
                    job_id: str | None = None, trigger: str = "adhoc") -> dict:
    """Generate a report (CSV/JSON[/XML] under ``reports/{period start}/``) and fire its dependents."""
    ctx = get_context()
    try:
        if job_id is None:
            job_id = _request(ctx, report_type, date, role, trigger)
        outcome = runner.run_report(ctx, job_id=job_id, worker_id=_worker_id(self), publish=publish_report)
    except runner.TransientReportError as exc:
        log.warning("%s; retry %d", exc, exc.attempts)
        raise self.retry(kwargs={"job_id": exc.job_id}, countdown=_backoff().delay_s(exc.attempts - 1)) from None
    except TimesheetBatchError as exc:
        if exc.transient and self.request.retries < 10:  # the database is down before any claim
            raise self.retry(countdown=_backoff().delay_s(self.request.retries)) from None
        return {"job_id": job_id, "status": "FAILED", "error": str(exc)}
    return outcome.as_dict()


def _request(ctx, report_type: str | None, date: str | None, role: str | None, trigger: str) -> str:
    if not report_type:
        raise ConfigurationError("generate_report needs report_type (or job_id)")
    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise ConfigurationError(f"date {date!r} is not YYYY-MM-DD") from None
    from timesheet_batch.schedule import report_roles

    role = role or report_roles(ctx.settings)[0]
    ref = runner.request_report(ctx, report_type_name=report_type, role=role, day=day,
                                trigger="schedule" if trigger == "schedule" else "adhoc")
    return ref.job_id


def _worker_id(task: Task) -> str:
    return f"{task.request.hostname or 'local'}:{os.getpid()}"


def fire_after_batch(batch_id: str) -> list[str]:
    """Queue the dependents of a summarised batch (called by ``summarize_batch``); never raises."""
    try:
        return runner.fire_after_batch(get_context(), batch_id=batch_id, publish=publish_report)
    except Exception:  # noqa: BLE001 - the summary is recorded; a dependency must not undo it
        log.exception("batch %s: dependents not fired", batch_id)
        return []


def _check_rules_at_start() -> None:
    """A broken dependency file stops the worker at start (exit 2), naming the variable."""
    from timesheet_batch.dependencies import rules_for
    from timesheet_batch.settings import get_settings

    try:
        rules_for(get_settings())
    except ConfigurationError as exc:
        import sys

        print(f"timesheet-batch: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


_check_rules_at_start()
