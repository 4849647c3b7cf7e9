"""Celery tasks: one per registered job kind, plus the farm's bookkeeping (discover, summarize, sweep).

A job task is thin: it finds the job (or records one for an ad hoc message), runs it through
the job runner, and maps what escapes to Celery: transient errors retry with exponential
backoff and jitter until the kind's attempts are spent, then the job is DEAD and parked;
permanent errors were already turned into FAILED by the runner. A job that ended FAILED or
DEAD makes its task a Celery FAILURE (JobNotCompletedError, after its row is written); the
batch's chord still completes, through its callback's errback (``summarize_failed_batch``).
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import logging
import os
import sys

from celery import Task, signals, states

from timesheet_batch import kinds as builtin_kinds
from timesheet_batch import pipeline
from timesheet_batch.context import get_context
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError, JobNotCompletedError, TimesheetBatchError, TransientJobError
from timesheet_batch.jobs import kinds, readiness, runner, shutdown, summary
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.jobs.kinds import JobKind
from timesheet_batch.jobs.retry_policy import Backoff, is_transient
from timesheet_batch.jobs.sweeper import SweepReport, sweep
from timesheet_batch.logsafe import safe
from timesheet_batch.messaging.app import app
from timesheet_batch.messaging.publisher import SUMMARIZE_FAILED_TASK, CeleryPublisher, dispatch_batch
from timesheet_batch.reports.dependencies import rules_for
from timesheet_batch.settings import get_settings
from timesheet_batch.states import JobStatus, retries_exhausted

log = logging.getLogger(__name__)
#: Retries of a task that could not even claim its job (database down): about 8 minutes.
PRE_CLAIM_RETRIES = 10
#: Bookkeeping tasks (discover, summarize, sweep) are short; a stuck one must not hold a slot.
BOOKKEEPING_SOFT_LIMIT_S = 5 * 60
BOOKKEEPING_HARD_LIMIT_S = 6 * 60


def _check_at_start() -> None:
    """Load the configured job kinds and the dependency rules; a worker that cannot serve them
    stops at start (exit 2, naming the variable) instead of taking messages it cannot run."""
    try:
        settings = get_settings()
        builtin_kinds.load_configured(settings)
        rules_for(settings)
    except ConfigurationError as exc:
        print(f"timesheet-batch: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


_check_at_start()
publisher = CeleryPublisher(app)
# Load the heavy stages (pyarrow, pandas, the formats) here, before the pool forks, so no pool
# process pays for the import on its first job; the job layer itself loads them on first use.
PRELOADED = (pipeline.process_inbound_file, pipeline.export_processed_file, pipeline.ChunkCheckpoint,
             importlib.import_module("timesheet_batch.reports.content"),
             importlib.import_module("timesheet_batch.reports.output"))


def _backoff() -> Backoff:
    return Backoff.from_settings(get_context().settings)


def _worker_id(task: Task) -> str:
    return f"{task.request.hostname or 'local'}:{os.getpid()}"


def _queued(kind: JobKind, job_id: str, args: tuple, kwargs: dict) -> repo.QueuedJob:
    """The job as its messages describe it, for a retry with its id or the dead-letter queue
    (neither needs its queue: a retry keeps the delivery's, a parked message goes to ``dead``)."""
    key = args[0] if args else kwargs.get("key")
    return repo.QueuedJob(job_id, key, kind.queue or "", kind.name)


def _retry_with_id(task: Task, kind: JobKind, job_id: str, *, countdown: float, max_retries: int | None = None):
    """Retry the same task with the job's id: an ad hoc message does not record its job twice.
    ``max_retries`` None: no limit (the job's own attempts bound it)."""
    args, kwargs = kind.message(_queued(kind, job_id, task.request.args or (), task.request.kwargs or {}))
    return task.retry(args=args, kwargs=kwargs, countdown=countdown, max_retries=max_retries)


def run_job_task(task: Task, kind: JobKind, args: tuple, kwargs: dict) -> dict:
    """The body of every job task: the job's outcome, or JobNotCompletedError (a Celery FAILURE)
    once its row says FAILED or DEAD."""
    ctx = get_context()
    job_id = kwargs.get("job_id")
    try:
        if job_id is None:
            job_id = _adhoc_job(task, kind, ctx, args, kwargs)
        outcome = runner.run_job(ctx, kind, job_id=job_id, worker_id=_worker_id(task), publisher=publisher)
    except TransientJobError as exc:
        return _finished(_after_transient_error(task, kind, ctx, exc))
    except TimesheetBatchError as exc:
        if not exc.transient:
            raise
        # The database or storage is down before the job was claimed: no attempt is spent.
        countdown = _backoff().delay_s(task.request.retries)
        if job_id is None:  # an ad hoc message that could not be recorded yet: same message again
            raise task.retry(countdown=countdown, max_retries=PRE_CLAIM_RETRIES) from None
        raise _retry_with_id(task, kind, job_id, countdown=countdown, max_retries=PRE_CLAIM_RETRIES) from None
    if outcome.retry_in_s:  # another worker's lease is live; if it died, the lease runs out
        raise _retry_with_id(task, kind, job_id, countdown=outcome.retry_in_s) from None
    if outcome.handed_back:  # a new message (same task id, same chord) for another worker
        raise _retry_with_id(task, kind, job_id, countdown=0) from None
    if outcome.exhausted:  # e.g. a poison file that killed its worker on every attempt
        publisher.park(_queued(kind, job_id, args, kwargs))
    return _finished(outcome.as_dict())


def _finished(result: dict) -> dict:
    """The task's result; a job that ended FAILED or DEAD raises, so Celery and Flower show a
    failure (the batch's chord still completes: its callback's errback summarises the batch)."""
    if result.get("status") in (JobStatus.FAILED, JobStatus.DEAD):
        raise JobNotCompletedError.of(result["job_id"], result["status"], result.get("error"))
    if result.get("status") == "missing":  # a message naming no recorded job
        raise JobNotCompletedError.of(result["job_id"], "not found", "no such job in the database")
    return result


def _adhoc_job(task: Task, kind: JobKind, ctx, args: tuple, kwargs: dict) -> str:
    """The job of a message without a job id, under the message's task id; a message refused
    (no ad hoc runs for the kind, an unsafe key, bad parameters) is recorded FAILED with its
    reason before it is acked, so ``status TASK_ID`` always answers."""
    task_id = task.request.id
    try:
        if kind.adhoc is None:
            raise ConfigurationError(f"{kind.task_name} runs submitted jobs only: its message needs job_id")
        return kind.adhoc(ctx, tuple(args), dict(kwargs), task_id)
    except TimesheetBatchError as exc:
        if exc.transient:
            raise
        log.warning("ad hoc %s refused: %s", kind.task_name, safe(str(exc)))
        key = args[0] if args else kwargs.get("key")
        with session_scope(ctx.database_url) as session:
            repo.add_refused_job(session, job_id=task_id, job_type=kind.name, reason=str(exc),
                                 input_key=ascii(key)[:500] if key is not None else None,
                                 business_date=ctx.settings.today())
        raise JobNotCompletedError.of(task_id, JobStatus.FAILED, str(exc)) from None


def _after_transient_error(task: Task, kind: JobKind, ctx, exc: TransientJobError) -> dict:
    """Retry with backoff, or after the last attempt make the job DEAD and park it."""
    job_id, attempts = exc.held.job_id, exc.held.attempts
    if retries_exhausted(attempts, kind.max_attempts(ctx.settings.max_retries)):
        log.warning("job %s: retries exhausted after %d attempts: DEAD", job_id, attempts)
        try:
            outcome = runner.give_up(ctx, kind, exc, publisher)
        except Exception as inner:
            if not is_transient(inner):
                raise
            # Cannot record it now: the next delivery finds the attempts spent and parks it.
            raise _retry_with_id(task, kind, job_id, countdown=_backoff().delay_s(attempts)) from None
        publisher.park(_queued(kind, job_id, task.request.args or (), task.request.kwargs or {}))
        return outcome.as_dict()
    try:
        runner.hand_back(ctx, exc)
    except Exception:  # noqa: BLE001 - if the database is down the lease runs out instead
        log.warning("job %s: could not hand it back; its lease will run out", job_id)
    delay = _backoff().delay_s(attempts - 1)
    log.warning("job %s: transient %s, retry %d in %.1fs", job_id, type(exc.cause).__name__, attempts, delay)
    raise _retry_with_id(task, kind, job_id, countdown=delay) from None


def register_kind_task(kind: JobKind) -> Task:
    """The Celery task that runs jobs of ``kind`` (its name is the kind's ``task_name``)."""

    def run_kind(self: Task, *args, **kwargs) -> dict:
        return run_job_task(self, kind, args, kwargs)

    run_kind.__name__ = run_kind.__qualname__ = kind.name.lower()
    run_kind.__doc__ = kind.description or f"Run one {kind.name} job."
    return app.task(
        name=kind.task_name, bind=True, acks_late=True, reject_on_worker_lost=True,
        soft_time_limit=kind.soft_time_limit_s(), time_limit=kind.time_limit_s,
        # Expected: logged as one line at INFO without a traceback; the row has the reason.
        throws=(JobNotCompletedError,),
    )(run_kind)


JOB_TASKS: dict[str, Task] = {kind.name: register_kind_task(kind) for kind in kinds.all_kinds()}

_BOOKKEEPING = {"bind": True, "acks_late": True, "soft_time_limit": BOOKKEEPING_SOFT_LIMIT_S,
                "time_limit": BOOKKEEPING_HARD_LIMIT_S}


def fire_after_batch(batch_id: str) -> list[str]:
    """Queue the dependents of a summarised batch; never raises (the summary stays recorded)."""
    return builtin_kinds.report.fire_after_batch(
        get_context(), batch_id=batch_id, publish=lambda job_id: publisher.publish(builtin_kinds.report.queued(job_id)))


@app.task(name="timesheet_batch.summarize_batch", max_retries=5, **_BOOKKEEPING)
def summarize_batch(self: Task, *args, batch_id: str | None = None) -> dict | None:
    """Chord callback: record and write the batch summary (once per batch).

    As a chord callback it receives the header results first; the batch id is the last
    positional argument (or ``batch_id``).
    """
    return _summarize(self, batch_id or args[-1])


@app.task(name=SUMMARIZE_FAILED_TASK, max_retries=5, **_BOOKKEEPING)
def summarize_failed_batch(self: Task, failed_task_id: str, *, batch_id: str) -> dict | None:
    """The errback of a batch's chord callback: a file that ended FAILED or DEAD is a failed
    Celery task, so the chord does not call its callback; this summarises the batch instead.
    (Its one positional parameter is the id Celery passes to an errback: the callback's.)"""
    return _summarize(self, batch_id)


def _summarize(task: Task, batch_id: str) -> dict | None:
    try:
        result = summary.summarize_batch(get_context(), batch_id=batch_id)
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise task.retry(exc=exc, countdown=_backoff().delay_s(task.request.retries)) from None
    if result is None:
        return None
    # Dependent jobs (reports) by rule: exactly once per batch, and never raising, so a
    # failure there cannot undo or retry the summary that was just recorded.
    return {"batch_id": batch_id, "status": result.status, "dependents": fire_after_batch(batch_id)}


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


def sweep_once() -> SweepReport:
    """Sweep now: re-dispatch lost work, park dead jobs, fire lost summaries and their dependents."""
    return sweep(get_context(), publisher=publisher, after_summary=fire_after_batch)


@app.task(name="timesheet_batch.sweep", ignore_result=True, **_BOOKKEEPING)
def sweep_task(self: Task) -> dict:
    """Re-dispatch jobs whose worker or message was lost; fire lost summaries."""
    report = sweep_once()
    return {"expired": len(report.expired), "redispatched": len(report.redispatched),
            "dead": len(report.dead), "summarized": len(report.summarized)}


@app.task(name="timesheet_batch.ping", acks_late=True)
def ping() -> str:
    """Does nothing: a health check, and the no-op reference of the benchmarks."""
    return "pong"


class _ExpectedChordFailure(logging.Filter):
    """Celery logs a chord whose part failed as an ERROR with a traceback. When the part is a
    job that ended FAILED or DEAD (already recorded, and its batch summarised by the errback),
    that is an expected outcome: one INFO line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "JobNotCompletedError" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


for _name in ("celery.backends.redis", "celery.app.builtins", "celery.backends.base"):
    logging.getLogger(_name).addFilter(_ExpectedChordFailure())


@signals.worker_init.connect
def _refuse_to_start_unless_ready(**_) -> None:
    """A worker that cannot serve exits before it consumes: 2 for a bad setting or file, 3 for a
    service that does not answer (a message is never taken only to be dropped)."""
    try:
        readiness.check_worker_can_serve(get_settings())
    except ConfigurationError as exc:
        _refuse(exc, 2)
    except TimesheetBatchError as exc:
        _refuse(exc, 3 if exc.transient else 2)


def _refuse(exc: Exception, code: int) -> None:
    print(f"timesheet-batch: worker not started: {exc}", file=sys.stderr, flush=True)
    # os._exit: Celery's worker start catches SystemExit in places and carries on.
    os._exit(code)


# Memory of the pool processes (RELIABILITY.md, "Soak": +0.48 MB per window, linear). A task
# that fails (a file that ended FAILED raises JobNotCompletedError) or retries leaves a reference
# cycle: the exception's __traceback__ holds Celery's trace_task frame, whose locals hold the
# exception and billiard's ExceptionInfo, which copies every code object of the traceback with
# its co_positions (~190 KB per failed task, measured with tracemalloc). Only a full collection
# frees a cycle, and CPython starts one only once the objects promoted to the old generation
# since the last one reach a quarter of those already there: ~200,000 in a pool process (the
# imports), so in practice never. Two remedies, in each pool process:
# - at its start, freeze what it inherited (gc.freeze): the collector skips those objects for
#   good, so a full collection costs ~1 ms instead of ~80 ms, and the automatic ones resume;
# - before the task that follows a failed or retried one, collect (the cycle is garbage only
#   once the failed task's trace has returned: not yet in its own task_postrun).
_collect_before_next_task = False


@signals.worker_process_init.connect
def _freeze_inherited_objects(**_) -> None:
    gc.collect()  # garbage the parent left is freed now, not frozen for good
    gc.freeze()
    gc.collect()  # nothing left to scan: resets the old generation's count to this process's own


@signals.task_postrun.connect
def _note_failed_task(state: str | None = None, **_) -> None:
    global _collect_before_next_task
    if state != states.SUCCESS:
        _collect_before_next_task = True


@signals.task_prerun.connect
def _collect_after_failed_task(**_) -> None:
    global _collect_before_next_task
    if _collect_before_next_task:
        _collect_before_next_task = False
        gc.collect()


@signals.worker_shutting_down.connect
def _start_grace_period(**_) -> None:
    """Warm shutdown began: pool processes hand their jobs back after the grace period."""
    shutdown.request_shutdown(grace_s=get_context().settings.shutdown_grace_s)


@signals.worker_shutdown.connect
def _end_grace_period(**_) -> None:
    shutdown.clear()


#: A purge stops starting batches after this long, inside the bookkeeping soft limit; the next
#: run (or ``timesheet-batch purge``) goes on where it stopped.
PURGE_BUDGET_S = BOOKKEEPING_SOFT_LIMIT_S - 60


@app.task(name="timesheet_batch.purge", ignore_result=True, **_BOOKKEEPING)
def purge_task(self: Task) -> dict:
    """Retention (beat entry ``purge``, off unless TIMESHEET_PURGE_CRON is set): finished batches
    and jobs older than TIMESHEET_RETENTION_DAYS, with their rows and work files."""
    from timesheet_batch.jobs import retention  # deferred: only the purge needs it

    return retention.purge(get_context(), publisher=publisher, time_budget_s=PURGE_BUDGET_S).as_dict()
