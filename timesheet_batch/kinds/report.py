"""The report kind: build one report of a (report type, role, period), write it, fire its dependents.

A report job is claimed, leased, retried and made DEAD by the same runner as a file job.
``request_report`` turns (type, role, date) into the one job of that report and period, so
two beats, a dependency and an ad hoc call share one job; ``run_report`` runs it in this
process (the ``report`` command, tests). Of two deliveries of the same job only the one that
wins the fenced claim generates; the other returns the job's state and does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError, TransientJobError
from timesheet_batch.jobs import kinds, runner
from timesheet_batch.jobs.kinds import JobKind, JobResult, JobRun, Submission
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.logsafe import safe
from timesheet_batch.pipeline import ChunkProgress
from timesheet_batch.reports import dependencies, jobs
from timesheet_batch.reports.periods import ReportType, default_day, period_for, report_type
from timesheet_batch.states import JobStatus, retries_exhausted
from timesheet_batch.vendors.profile import role_problem

log = logging.getLogger(__name__)

NAME = "REPORT"
QUEUE = "high"


class ReportParams(BaseModel):
    """A report of ``report_type`` masked for ``role``, of the period containing ``date``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_type: ReportType
    role: str | None = Field(default=None, pattern=jobs.ROLE_PATTERN)  # None: the first configured role
    date: dt.date | None = None  # None: yesterday in the farm's zone
    trigger: Literal["schedule", "adhoc"] = "adhoc"

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A role of the vendor file, exactly as spelled there (``JobKind.validate`` passes the context)."""
        ctx = (info.context or {}).get("ctx")
        if value is not None and ctx is not None:
            problem = role_problem(value, ctx.catalog.roles)
            if problem is not None:
                raise ValueError(problem)
        return value


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


def formats_of(ctx: FarmContext) -> list[str]:
    """The configured report formats (``TIMESHEET_REPORT_FORMATS``)."""
    return [f.strip() for f in ctx.settings.report_formats.split(",") if f.strip()]


def request_report(ctx: FarmContext, *, report_type_name: str, role: str, day=None,
                   trigger: str = "adhoc", job_id: str | None = None) -> jobs.ReportJobRef:
    """The job of this report type, role and the period containing ``day`` (default: yesterday)."""
    kind = report_type(report_type_name)
    jobs.check_role(role, ctx.catalog.roles)
    period = period_for(kind, day or default_day(ctx.settings.timezone))
    with session_scope(ctx.database_url) as session:
        return jobs.ensure_report_job(session, report_type=kind, role=role, period=period, trigger=trigger,
                                      data_format=",".join(formats_of(ctx)), job_id=job_id)


def queued(job_id: str) -> repo.QueuedJob:
    """A report job as the publisher sends it (by id, in ``high``)."""
    return repo.QueuedJob(job_id, None, QUEUE, NAME)


def create(ctx: FarmContext, params: ReportParams, *, job_id: str | None = None) -> Submission:
    role = params.role or jobs.report_roles(ctx.settings)[0]
    ref = request_report(ctx, report_type_name=params.report_type, role=role, day=params.date,
                         trigger=params.trigger, job_id=job_id)
    return Submission(ref.job_id, publish=ref.publish, queued=queued(ref.job_id))


def adhoc(ctx: FarmContext, args: tuple, kwargs: dict, job_id: str) -> str:
    """The job of a ``generate_report`` message by type / role / date (beat, ``celery call``)."""
    if not kwargs.get("report_type"):
        raise ConfigurationError("generate_report needs report_type (or job_id)")
    fields = {k: kwargs[k] for k in ("report_type", "role", "date") if kwargs.get(k) is not None}
    fields["trigger"] = "schedule" if kwargs.get("trigger") == "schedule" else "adhoc"
    # The report of this type, role and period may exist already (one job per report): the
    # message then rides on it, and its result names that job's id.
    return create(ctx, KIND.validate(fields, ctx), job_id=job_id).job_id


def run(job_run: JobRun) -> JobResult:
    # Deferred: building a report brings pyarrow (~0.3 s to import); every command registers
    # this kind at start and most never run it. Workers load it before the pool forks.
    from timesheet_batch.reports.content import build_report
    from timesheet_batch.reports.output import write_report

    ctx, job = job_run.ctx, job_run.job
    with session_scope(ctx.database_url) as session:
        report_run = jobs.get_run(session, job_id=job.job_id)
    if report_run is None:
        raise ConfigurationError(f"report job {job.job_id} has no report_runs row")
    period = period_for(report_type(report_run.report_type), report_run.period_start)
    content = build_report(ctx, report_type=report_run.report_type, role=job.role, period=period)
    job_run.on_chunk(ChunkProgress(0, 0, 0, final=True))  # a report cancelled by now writes nothing
    keys = write_report(ctx.storage, content, formats_of(ctx))
    log.info("report %s %s %s: %d record(s) -> %s", report_run.report_type, safe(job.role), period.key,
             content.records, safe(", ".join(keys.values())))
    return JobResult(records_written=content.records, output_key=keys.get("json") or next(iter(keys.values())),
                     details={"output_keys": keys})


def fire_dependents_of(ctx: FarmContext, job_id: str, status: str, publisher: Publisher | None) -> list[str]:
    """A finished report's dependents (ON_COMPLETION ones after a failure too); never raises."""
    if publisher is None:
        return []
    with session_scope(ctx.database_url) as session:
        parent = dependencies.parent_of_report(session, job_id=job_id)
    if parent is None:
        return []
    return dependencies.fire_dependents(ctx, parent, publish=lambda dependent: publisher.publish(queued(dependent)))


def fire_after_batch(ctx: FarmContext, *, batch_id: str, publish: Callable[[str], None]) -> list[str]:
    """Fire the dependents of a summarised window batch; never raises."""
    try:
        with session_scope(ctx.database_url) as session:
            parent = dependencies.parent_of_batch(session, batch_id=batch_id)
    except Exception:  # noqa: BLE001 - the batch summary is recorded and stays so
        log.exception("batch %s: dependents not fired", safe(batch_id))
        return []
    return [] if parent is None else dependencies.fire_dependents(ctx, parent, publish=publish)


class _CallbackPublisher:
    """Publishes report jobs by handing their ids to a callback (``run_report``'s ``publish``).

    Only ``publish`` is there: a report's ``after_finish`` is all that uses the publisher here.
    """

    def __init__(self, publish: Callable[[str], None]):
        self._publish = publish

    def publish(self, job: repo.QueuedJob) -> None:
        self._publish(job.job_id)


def run_report(ctx: FarmContext, *, job_id: str, worker_id: str,
               publish: Callable[[str], None] | None = None) -> ReportOutcome:
    """Run report job ``job_id`` here if this caller wins its claim; ``publish`` gets its dependents' ids.

    A transient failure hands the job back (RETRYING) for a worker or the next call, or makes
    it DEAD once its attempts are spent, as the task would.
    """
    publisher = _CallbackPublisher(publish) if publish is not None else None
    try:
        outcome = runner.run_job(ctx, KIND, job_id=job_id, worker_id=worker_id, publisher=publisher)
    except TransientJobError as exc:
        if retries_exhausted(exc.held.attempts, KIND.max_attempts(ctx.settings.max_retries)):
            outcome = runner.give_up(ctx, KIND, exc, publisher)
        else:
            runner.hand_back(ctx, exc)
            return ReportOutcome(job_id, JobStatus.RETRYING, ran=True, error=str(exc))
    return ReportOutcome(job_id, outcome.status, ran=not outcome.skipped,
                         output_keys=outcome.details.get("output_keys", {}), records=outcome.records_written,
                         error=outcome.error, dependents=outcome.dependents)


KIND: JobKind = kinds.register(JobKind(
    name=NAME, task_name="timesheet_batch.generate_report",
    description="Generate a report (CSV/JSON[/XML] under reports/{period start}/) and fire its dependents.",
    params=ReportParams, create=create, run=run, stored_as=frozenset(t.value for t in ReportType), queue=QUEUE,
    after_finish=fire_dependents_of, adhoc=adhoc,
))
