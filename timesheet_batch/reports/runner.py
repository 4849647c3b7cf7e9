"""Running one report job: claim it, build it, write it, finish it, fire its dependents.

``request_report`` turns (type, role, date) into the one job of that report and period;
``run_report`` runs a job by id. Of two deliveries of the same job only the one that wins
the fenced claim generates; the other returns the job's state and does nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from timesheet_batch import dependencies
from timesheet_batch.context import FarmContext
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.reports import jobs
from timesheet_batch.reports.content import build_report
from timesheet_batch.reports.output import write_report
from timesheet_batch.reports.periods import Period, default_day, period_for, report_type
from timesheet_batch.retry_policy import is_transient
from timesheet_batch.states import JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOutcome:
    """What a run did: the job's state, its files, and the dependents it queued."""

    job_id: str
    status: str
    ran: bool
    output_keys: dict[str, str] = field(default_factory=dict)
    records: int = 0
    error: str | None = None
    dependents: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class TransientReportError(Exception):
    """A transient failure; the job was handed back (RETRYING) and should be tried again."""

    def __init__(self, job_id: str, attempts: int, cause: BaseException):
        super().__init__(f"report job {job_id}: transient {type(cause).__name__}")
        self.job_id, self.attempts, self.cause = job_id, attempts, cause


def formats_of(ctx: FarmContext) -> list[str]:
    """The configured report formats (``TIMESHEET_REPORT_FORMATS``)."""
    return [f.strip() for f in ctx.settings.report_formats.split(",") if f.strip()]


def request_report(ctx: FarmContext, *, report_type_name: str, role: str, day=None,
                   trigger: str = "adhoc") -> jobs.ReportJobRef:
    """The job of this report type, role and the period containing ``day`` (default: yesterday)."""
    kind = report_type(report_type_name)
    jobs.check_role(role)
    period: Period = period_for(kind, day or default_day(ctx.settings.timezone))
    with session_scope(ctx.database_url) as session:
        return jobs.ensure_report_job(session, report_type=kind, role=role, period=period, trigger=trigger,
                                      data_format=",".join(formats_of(ctx)))


def run_report(ctx: FarmContext, *, job_id: str, worker_id: str,
               publish: Callable[[str], None] | None = None) -> ReportOutcome:
    """Generate report job ``job_id`` if this caller wins its claim; then fire its dependents."""
    with session_scope(ctx.database_url) as session:
        job = jobs.claim_report(session, job_id=job_id, worker_id=worker_id)
        if job is None:
            current = repo.get_job(session, job_id=job_id)
            return ReportOutcome(job_id, current.status if current else "MISSING", ran=False)
        run = jobs.get_run(session, job_id=job_id)
        version, attempts, role = job.version, job.attempts, job.role
        period = period_for(report_type(run.report_type), run.period_start)
    started = time.monotonic()
    try:
        content = build_report(ctx, report_type=run.report_type, role=role, period=period)
        keys = write_report(ctx.storage, content, formats_of(ctx))
    except Exception as exc:  # noqa: BLE001 - every failure ends in a state, never in a hung job
        return _after_failure(ctx, job_id, version, attempts, exc, publish)
    main_key = keys.get("json") or next(iter(keys.values()))
    with session_scope(ctx.database_url) as session:
        claims.finish_job(session, job_id=job_id, status=JobStatus.COMPLETED, version=version,
                          records_written=content.records, output_key=main_key)
    log.info("report %s %s %s: %d record(s) in %.1fs -> %s", run.report_type, role, period.key,
             content.records, time.monotonic() - started, main_key)
    fired = _fire(ctx, job_id, publish)
    return ReportOutcome(job_id, JobStatus.COMPLETED, True, keys, content.records, dependents=fired)


def _after_failure(ctx, job_id: str, version: int, attempts: int, exc: BaseException, publish) -> ReportOutcome:
    message = f"{type(exc).__name__}: {exc}"
    if is_transient(exc) and attempts <= ctx.settings.max_retries:
        with session_scope(ctx.database_url) as session:
            jobs.hand_back(session, job_id=job_id, version=version, error_message=message)
        raise TransientReportError(job_id, attempts, exc) from exc
    status = JobStatus.DEAD if is_transient(exc) else JobStatus.FAILED
    log.error("report job %s %s: %s", job_id, status, message)
    with session_scope(ctx.database_url) as session:
        claims.finish_job(session, job_id=job_id, status=status, version=version, error_message=message)
    fired = _fire(ctx, job_id, publish)  # ON_COMPLETION dependents run after a failure too
    return ReportOutcome(job_id, status, True, error=message, dependents=fired)


def _fire(ctx: FarmContext, job_id: str, publish: Callable[[str], None] | None) -> list[str]:
    """Fire the finished job's dependents; never raises (see ``dependencies``)."""
    if publish is None:
        return []
    try:
        with session_scope(ctx.database_url) as session:
            parent = dependencies.parent_of_report(session, job_id=job_id)
    except Exception:  # noqa: BLE001 - the report itself is finished and stays so
        log.exception("report job %s: dependents not fired", job_id)
        return []
    return [] if parent is None else dependencies.fire_dependents(ctx, parent, publish=publish)


def fire_after_batch(ctx: FarmContext, *, batch_id: str, publish: Callable[[str], None]) -> list[str]:
    """Fire the dependents of a summarised window batch; never raises."""
    try:
        with session_scope(ctx.database_url) as session:
            parent = dependencies.parent_of_batch(session, batch_id=batch_id)
    except Exception:  # noqa: BLE001 - the batch summary is recorded and stays so
        log.exception("batch %s: dependents not fired", batch_id)
        return []
    return [] if parent is None else dependencies.fire_dependents(ctx, parent, publish=publish)
