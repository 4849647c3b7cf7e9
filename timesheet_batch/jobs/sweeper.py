"""The sweeper: finds work the broker lost and batches whose summary never fired.

Runs periodically (beat, every ``TIMESHEET_SWEEP_INTERVAL_S``) and inside ``run``'s wait
loop. Every change is a compare-and-set on the job row, so two sweepers running at once
dispatch each job at most once between them; a duplicate message would be harmless anyway
(the claim is fenced), only wasteful. What happens to a lost job is its kind's ``on_lost``:
published again (every built-in kind), or FAILED with the reason.

1. PROCESSING jobs whose lease expired: the worker died. They go back to RETRYING and are
   dispatched again (or DEAD when their attempts are spent, and parked).
2. QUEUED / RETRYING jobs dispatched long ago while their queue is empty: the message was
   lost (e.g. Redis restarted without persistence). They are dispatched again.
3. Batches whose jobs are all terminal but that have no summary: the chord was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from timesheet_batch.context import FarmContext
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import kinds, summary
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.jobs.retry_policy import Backoff
from timesheet_batch.logsafe import safe
from timesheet_batch.states import TERMINAL_JOB_STATES, JobStatus, retries_exhausted

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did (job and batch ids)."""

    expired: list[str] = field(default_factory=list)
    redispatched: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    summarized: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.expired or self.redispatched or self.dead or self.failed or self.summarized)


@dataclass
class _Actions:
    """What to send once the sweep's transaction committed."""

    publish: list[repo.QueuedJob] = field(default_factory=list)
    park: list[repo.QueuedJob] = field(default_factory=list)


def sweep(ctx: FarmContext, *, publisher: Publisher, after_summary: Callable[[str], object] | None = None,
          now: dt.datetime | None = None) -> SweepReport:
    """One sweep. ``publisher`` sends and parks messages and tells the queue depths;
    ``after_summary`` fires a batch's dependents once the sweeper summarised it.

    A QUEUED job whose message has not run for ``TIMESHEET_LOST_AFTER_S`` while its queue is
    empty is taken as lost.
    """
    now = now or repo.utc_now()
    report, actions = SweepReport(), _Actions()
    depths = publisher.queue_depths()
    with session_scope(ctx.database_url) as session:
        _expired_leases(session, ctx, now, report, actions)
        _lost_messages(session, ctx, now, depths, report, actions)
    for job in actions.publish:
        publisher.publish(job)
    for job in actions.park:
        publisher.park(job)
    for batch_id in _unsummarized_batches(ctx):
        if summary.summarize_batch(ctx, batch_id=batch_id) is not None:
            report.summarized.append(batch_id)
            if after_summary is not None:
                after_summary(batch_id)
    if report:
        log.warning("sweep: %d expired lease(s), %d lost message(s), %d dead, %d failed, %d summary(ies)",
                    len(report.expired), len(report.redispatched), len(report.dead), len(report.failed),
                    len(report.summarized))
    return report


def _queued(job: BatchJob) -> repo.QueuedJob:
    return repo.QueuedJob(job.job_id, job.input_file_path, job.priority or "low", job.report_type)


def _expired_leases(session, ctx: FarmContext, now, report: SweepReport, actions: _Actions) -> None:
    stmt = select(BatchJob).where(BatchJob.status == JobStatus.PROCESSING, BatchJob.lease_expires_at < now)
    for job in session.scalars(stmt).all():
        kind = _kind_of(job)
        if kind is None:
            continue
        if retries_exhausted(job.attempts, kind.max_attempts(ctx.settings.max_retries)):
            reason = f"gave up after {job.attempts} attempt(s): the worker was lost each time"
            if claims.give_up(session, job, reason=reason):
                report.dead.append(job.job_id)
                actions.park.append(_queued(job))
        elif kind.on_lost == kinds.FAIL:
            _fail(session, job, "worker lost (lease expired)", now, report)
        elif repo.fenced_update(session, job, status=JobStatus.RETRYING, dispatched_at=now, lease_expires_at=None,
                                error_message="worker lost (lease expired)"):
            report.expired.append(job.job_id)
            actions.publish.append(_queued(job))


def _lost_messages(session, ctx: FarmContext, now, depths, report: SweepReport, actions: _Actions) -> None:
    # A RETRYING job may legitimately wait out its backoff before its message runs. A job
    # recorded before dispatch times were kept for every kind has only its last change.
    lost_after_s = ctx.settings.lost_after_s
    queued_before = now - dt.timedelta(seconds=lost_after_s)
    retrying_before = now - dt.timedelta(seconds=lost_after_s + Backoff.from_settings(ctx.settings).cap_s)
    sent_at = func.coalesce(BatchJob.dispatched_at, BatchJob.updated_at)
    stmt = select(BatchJob).where(
        ((BatchJob.status == JobStatus.QUEUED) & (sent_at < queued_before))
        | ((BatchJob.status == JobStatus.RETRYING) & (sent_at < retrying_before))
    )
    for job in session.scalars(stmt).all():
        if depths.get(job.priority or "low", 0) > 0:
            continue  # messages are still waiting there; this one may be among them
        kind = _kind_of(job)
        if kind is None:
            continue
        if kind.on_lost == kinds.FAIL:
            _fail(session, job, "its message was lost", now, report)
        elif repo.fenced_update(session, job, unchanged=("dispatched_at",), dispatched_at=now):
            report.redispatched.append(job.job_id)
            actions.publish.append(_queued(job))


def _kind_of(job: BatchJob) -> kinds.JobKind | None:
    """The job's kind; None (and a warning) for a kind this process does not know (its module is
    not in this process's ``TIMESHEET_JOB_KINDS``): a sweeper that does will handle it."""
    try:
        return kinds.for_stored_name(job.report_type)
    except ConfigurationError as exc:
        log.warning("sweep: job %s left alone: %s", job.job_id, safe(exc))
        return None


def _fail(session, job: BatchJob, reason: str, now, report: SweepReport) -> None:
    """A lost job of a kind that must not run twice: FAILED with the reason, for an operator to decide."""
    if repo.fenced_update(session, job, status=JobStatus.FAILED, error_message=reason, completed_at=now,
                          lease_expires_at=None):
        repo.add_error(session, job_id=job.job_id, attempt=job.attempts, error_message=reason)
        report.failed.append(job.job_id)


def _unsummarized_batches(ctx: FarmContext) -> list[str]:
    unfinished = (
        select(func.count())
        .select_from(BatchJob)
        .where(BatchJob.batch_id == Batch.id, BatchJob.status.not_in(list(TERMINAL_JOB_STATES)))
        .scalar_subquery()
    )
    with session_scope(ctx.database_url) as session:
        return list(session.scalars(select(Batch.id).where(Batch.summarized_at.is_(None), unfinished == 0)))
