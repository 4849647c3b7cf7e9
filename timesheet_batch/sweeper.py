"""The sweeper: finds work the broker lost and batches whose summary never fired.

Runs periodically (beat, every ``TIMESHEET_SWEEP_INTERVAL_S``) and inside ``run``'s wait
loop. Every change is a compare-and-set on the job row, so two sweepers running at once
dispatch each job at most once between them; a duplicate message would be harmless anyway
(the claim is fenced), only wasteful.

1. PROCESSING jobs whose lease expired: the worker died. They go back to RETRYING and are
   dispatched again (or DEAD when their attempts are spent).
2. QUEUED / RETRYING jobs dispatched long ago while their priority's queue is empty: the
   message was lost (e.g. Redis restarted without persistence). They are dispatched again;
   report jobs the same way, through ``generate_report``.
3. Batches whose jobs are all terminal but that have no summary: the chord was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from timesheet_batch import summary
from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.job_types import FILE_JOB_TYPES
from timesheet_batch.retry_policy import Backoff
from timesheet_batch.states import TERMINAL_JOB_STATES, JobStatus

log = logging.getLogger(__name__)

@dataclass
class SweepReport:
    """What one sweep did (job and batch ids)."""

    expired: list[str] = field(default_factory=list)
    redispatched: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    summarized: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.expired or self.redispatched or self.dead or self.summarized)


def sweep(
    ctx: FarmContext,
    *,
    publish: Callable[[repo.QueuedJob], None],
    queue_depths: Mapping[str, int] | None,
    park: Callable[[repo.QueuedJob], None] | None = None,
    after_summary: Callable[[str], object] | None = None,
    publish_report: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> SweepReport:
    """One sweep. ``publish`` sends one job's message; ``park`` puts a DEAD one in the
    dead-letter queue; ``after_summary`` fires a batch's dependents once the sweeper
    summarised it; ``publish_report`` re-sends a report job whose message was lost;
    ``queue_depths`` maps priority → messages waiting.

    A QUEUED job whose message has not run for ``TIMESHEET_LOST_AFTER_S`` while its queue is
    empty is taken as lost.
    """
    now = now or repo.utc_now()
    lost_after_s = ctx.settings.lost_after_s
    report = SweepReport()
    to_publish: list[repo.QueuedJob] = []
    to_park: list[repo.QueuedJob] = []
    with session_scope(ctx.database_url) as session:
        _expired_leases(session, ctx, now, report, to_publish, to_park)
        retry_wait_s = lost_after_s + Backoff.from_settings(ctx.settings).cap_s
        _lost_messages(session, now, lost_after_s, retry_wait_s, queue_depths or {}, report, to_publish)
        lost_reports = _lost_reports(session, now, retry_wait_s, queue_depths or {}, report)
    for job in to_publish:
        publish(job)
    for job in to_park:
        if park is not None:
            park(job)
    for job_id in lost_reports:
        if publish_report is not None:
            publish_report(job_id)
    for batch_id in _unsummarized_batches(ctx):
        if summary.summarize_batch(ctx, batch_id=batch_id) is not None:
            report.summarized.append(batch_id)
            if after_summary is not None:
                after_summary(batch_id)
    if report:
        log.warning("sweep: %d expired lease(s), %d lost message(s), %d dead, %d summary(ies)",
                    len(report.expired), len(report.redispatched), len(report.dead), len(report.summarized))
    return report


def _queued(job: BatchJob) -> repo.QueuedJob:
    return repo.QueuedJob(job.job_id, job.input_file_path, job.priority or "low", job.report_type)


def _expired_leases(session, ctx: FarmContext, now, report: SweepReport, out: list, dead: list) -> None:
    stmt = select(BatchJob).where(BatchJob.status == JobStatus.PROCESSING, BatchJob.lease_expires_at < now)
    max_attempts = ctx.settings.max_retries + 1
    for job in session.scalars(stmt).all():
        if job.attempts >= max_attempts:
            reason = f"gave up after {job.attempts} attempt(s): the worker was lost each time"
            if _swap(session, job, status=JobStatus.DEAD, error_message=reason, completed_at=now,
                     lease_expires_at=None):
                repo.add_error(session, job_id=job.job_id, attempt=job.attempts, error_message=reason)
                report.dead.append(job.job_id)
                dead.append(_queued(job))
            continue
        if _swap(session, job, status=JobStatus.RETRYING, dispatched_at=now, lease_expires_at=None,
                 error_message="worker lost (lease expired)"):
            report.expired.append(job.job_id)
            out.append(_queued(job))


def _lost_messages(session, now, lost_after_s: float, retry_wait_s: float, depths, report: SweepReport,
                   out: list) -> None:
    # A RETRYING job may legitimately wait out its backoff before its message runs.
    queued_before = now - dt.timedelta(seconds=lost_after_s)
    retrying_before = now - dt.timedelta(seconds=retry_wait_s)
    stmt = select(BatchJob).where(
        ((BatchJob.status == JobStatus.QUEUED) & (BatchJob.dispatched_at < queued_before))
        | ((BatchJob.status == JobStatus.RETRYING) & (BatchJob.dispatched_at < retrying_before))
    )
    for job in session.scalars(stmt).all():
        if depths.get(job.priority or "low", 0) > 0:
            continue  # messages are still waiting there; this one may be among them
        if _swap(session, job, dispatched_at=now, expected_dispatched_at=job.dispatched_at):
            report.redispatched.append(job.job_id)
            out.append(_queued(job))


def _lost_reports(session, now, wait_s: float, depths, report: SweepReport) -> list[str]:
    """Report jobs (they run in ``high``) queued long ago while ``high`` is empty: re-send them.

    Report jobs carry no dispatch time; their last change (``updated_at``) stands in for it.
    """
    if depths.get("high", 0) > 0:
        return []
    stmt = select(BatchJob).where(
        BatchJob.report_type.not_in(list(FILE_JOB_TYPES)),
        BatchJob.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]),
        BatchJob.updated_at < now - dt.timedelta(seconds=wait_s),
    )
    lost = []
    for job in session.scalars(stmt).all():
        if _swap(session, job, expected_updated_at=job.updated_at):
            report.redispatched.append(job.job_id)
            lost.append(job.job_id)
    return lost


def _swap(session, job: BatchJob, *, expected_dispatched_at=None, expected_updated_at=None, **values) -> bool:
    """Compare-and-set on (version, status[, dispatched_at | updated_at]): True for exactly one sweeper."""
    stmt = update(BatchJob).where(BatchJob.id == job.id, BatchJob.version == job.version,
                                  BatchJob.status == job.status)
    if expected_dispatched_at is not None:
        stmt = stmt.where(BatchJob.dispatched_at == expected_dispatched_at)
    if expected_updated_at is not None:
        stmt = stmt.where(BatchJob.updated_at == expected_updated_at)
    result = session.execute(stmt.values(updated_at=repo.utc_now(), **values)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _unsummarized_batches(ctx: FarmContext) -> list[str]:
    unfinished = (
        select(func.count())
        .select_from(BatchJob)
        .where(BatchJob.batch_id == Batch.id, BatchJob.status.not_in(list(TERMINAL_JOB_STATES)))
        .scalar_subquery()
    )
    with session_scope(ctx.database_url) as session:
        return list(session.scalars(select(Batch.id).where(Batch.summarized_at.is_(None), unfinished == 0)))
