"""Report jobs in the database: one ``batch_job_log`` row per (report type, role, period).

``ensure_report_job`` is the idempotency point: two beats, a dependency and an ad hoc call
for the same report all get the same job (the unique key of ``report_runs``). Running a report job (claim,
lease, retries) is the job runner's, as for every kind (``timesheet_batch.kinds.report``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from timesheet_batch.db import repository as repo
from timesheet_batch.db.models import BatchJob
from timesheet_batch.db.report_models import ReportRun
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.reports.periods import Period
from timesheet_batch.settings import Settings
from timesheet_batch.states import JobStatus
from timesheet_batch.vendors.profile import ROLE_NAME_PATTERN, ROLE_NAME_RE, role_problem

ROLE_PATTERN = ROLE_NAME_PATTERN
ROLE_RE = ROLE_NAME_RE
_RERUNNABLE = {JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED}


@dataclass(frozen=True)
class ReportJobRef:
    """A report job and whether this call created (or re-queued) it and so must publish it."""

    job_id: str
    report_type: str
    role: str
    period: Period
    status: str
    publish: bool


def check_role(role: str, roles: Collection[str], *, what: str = "role") -> str:
    """``role`` if it is one of ``roles`` (the vendor file's), exactly as spelled there; else
    ConfigurationError naming ``what`` (``--role``, ...) and listing the known roles.

    Exact, not case-folded: a role is a key of the vendor file's ``roles``, and the masking, the
    ``report_runs`` key and the beat entries match it exactly, while report file names are lower
    case; so ``supervisor`` would be a second job (masking everything) over SUPERVISOR's file."""
    problem = role_problem(role, roles)
    if problem is not None or not ROLE_RE.match(role):
        raise ConfigurationError(f"{what} {problem or 'is not [A-Za-z0-9_]{1,50}'}")
    return role


def report_roles(settings: Settings) -> list[str]:
    """The roles scheduled reports are generated for, in the order configured."""
    return settings.report_role_names


def find_run(session: Session, *, report_type: str, role: str, period_key: str) -> ReportRun | None:
    stmt = select(ReportRun).where(ReportRun.report_type == report_type, ReportRun.role == role,
                                   ReportRun.period_key == period_key)
    return session.scalars(stmt).first()


def get_run(session: Session, *, job_id: str) -> ReportRun | None:
    return session.scalars(select(ReportRun).where(ReportRun.job_id == job_id)).first()


def ensure_report_job(session: Session, *, report_type: str, role: str, period: Period, trigger: str,
                      data_format: str, parent_job_id: str | None = None,
                      correlation_id: str | None = None, job_id: str | None = None) -> ReportJobRef:
    """The report job of (type, role, period), created QUEUED if there is none yet (as ``job_id``
    when given: an ad hoc message's task id).

    An existing job that failed, died or was cancelled is queued again (asking again is how a
    failed report is retried); a queued, running or completed one is left as it is.
    """
    run = find_run(session, report_type=report_type, role=role, period_key=period.key)
    if run is None:
        created = _insert(session, report_type, role, period, trigger, data_format, parent_job_id, correlation_id,
                          job_id)
        if created is not None:
            return created
        run = find_run(session, report_type=report_type, role=role, period_key=period.key)
    job = repo.get_job(session, job_id=run.job_id)
    publish = job.status in _RERUNNABLE and _requeue(session, job)
    return ReportJobRef(run.job_id, report_type, role, period, JobStatus.QUEUED if publish else job.status, publish)


def _insert(session, report_type, role, period, trigger, data_format, parent_job_id, correlation_id, job_id=None):
    now = repo.utc_now()
    job_id = job_id or str(uuid.uuid4())
    row = BatchJob(
        job_id=job_id, correlation_id=(correlation_id or f"{report_type.lower()}-{period.key}")[:50],
        report_type=report_type, role=role, data_format=data_format[:20], status=JobStatus.QUEUED,
        submitted_at=now, business_date=period.start, priority="high", version=0, attempts=0,
        dispatched_at=now,  # the caller publishes it now (or runs it here); the sweeper watches from then
    )
    run = ReportRun(job_id=job_id, report_type=report_type, role=role, period_key=period.key,
                    period_start=period.start, period_end=period.end, trigger=trigger,
                    parent_job_id=parent_job_id, created_at=now)
    try:
        with session.begin_nested():
            session.add_all([row, run])
            session.flush()
    except IntegrityError:  # another beat or worker created it a moment ago
        return None
    return ReportJobRef(job_id, report_type, role, period, JobStatus.QUEUED, True)


def _requeue(session: Session, job: BatchJob) -> bool:
    now = repo.utc_now()
    return repo.fenced_update(session, job, status=JobStatus.QUEUED, version=job.version + 1, attempts=0,
                              error_message=None, completed_at=None, submitted_at=now, dispatched_at=now)
