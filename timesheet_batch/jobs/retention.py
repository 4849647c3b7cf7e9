"""Retention: purge finished batches and jobs older than a cutoff, with their rows and work files.

``timesheet-batch purge`` and the beat entry ``purge`` (off unless ``TIMESHEET_PURGE_CRON`` is
set) call :func:`purge`; the age is ``TIMESHEET_RETENTION_DAYS`` (default 90) unless given.

What goes:

- A **batch** whose every job is terminal (COMPLETED, FAILED, CANCELLED, DEAD), that finished
  (or, never summarised, was created) before the cutoff, and none of whose jobs was touched
  since (``updated_at``): its ``batches`` row, its ``batch_job_log`` rows, their ``job_errors``,
  and the ``job_dependencies`` rows that name the batch or one of its jobs as a parent or a
  dependent. A batch with one job QUEUED, PROCESSING or RETRYING is never touched, whatever
  its age; nor is one with a job that finished again after the cutoff.
- A **job without a batch** (an ad hoc file, a report, a refused message) that is terminal and
  was last touched before the cutoff: its row, its ``job_errors``, its ``report_runs`` row and
  the ``job_dependencies`` rows naming it.
- Their **work files**: the checkpoint parts of an inbound run under ``staging/{token}/``
  (normally removed when the run ends; left behind by a run that crashed, died or was
  cancelled). A DEAD job's message parked in the dead-letter queue is removed too, when a
  publisher is given.

What stays: inbound originals (what vendors delivered), processed Parquet (the quarterly and
yearly reports aggregate it), rejects, outbound files (delivered to vendors), batch summaries
and reports. They are the farm's outputs and its archive, not work files; none of them is
deleted here.

Safe to run twice and beside running workers: each batch goes in one transaction of its own
(jobs without a batch in pages of :data:`JOB_PAGE`), and the DELETE of the job rows is itself
the compare-and-set: it matches only rows still terminal and still old, and if any row of the
batch is left (re-queued or added since it was read) the transaction is rolled back and the
batch kept whole. On PostgreSQL the batch row is locked first (``FOR UPDATE SKIP LOCKED``), so
jobs cannot be added to it meanwhile and two purges never work on the same batch. Files are
deleted only after the rows' transaction committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob, JobError
from timesheet_batch.db.report_models import JobDependency, ReportRun
from timesheet_batch.db.repository import utc_now
from timesheet_batch.errors import DatabaseUnavailableError
from timesheet_batch.jobs.publisher import Publisher
from timesheet_batch.states import TERMINAL_JOB_STATES, JobStatus
from timesheet_batch.storage.base import Storage

log = logging.getLogger(__name__)

#: Old batches examined per selection query (each is then purged in a transaction of its own).
BATCH_PAGE = 50
#: Jobs without a batch deleted per transaction.
JOB_PAGE = 500
#: Ids per ``IN (...)`` list.
_IN_CHUNK = 500
_TERMINAL = sorted(status.value for status in TERMINAL_JOB_STATES)
_JOBS = BatchJob.__table__
_J = _JOBS.c
_BATCHES = Batch.__table__
_ERRORS = JobError.__table__
_RUNS = ReportRun.__table__
_DEPS = JobDependency.__table__


@dataclass
class PurgeReport:
    """What a purge removed (or, with ``dry_run``, would remove): counts per kind of thing."""

    cutoff: str
    dry_run: bool
    batches: int = 0
    #: Job rows, with and without a batch; ``adhoc_jobs`` of them had no batch.
    jobs: int = 0
    adhoc_jobs: int = 0
    job_errors: int = 0
    report_runs: int = 0
    job_dependencies: int = 0
    staging_files: int = 0
    #: DEAD jobs purged whose parked dead-letter message was removed (or would be).
    parked_messages: int = 0
    #: Batches older than the cutoff kept because a job is unfinished or finished since.
    kept_batches: int = 0
    #: False when the time budget ran out first: run it again for the rest.
    complete: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Gone:
    """A job row that was (or would be) deleted: what its files and parked message need."""

    job_id: str
    status: str
    content_fingerprint: str | None


@dataclass
class _Purger:
    ctx: FarmContext
    cutoff: dt.datetime
    dry_run: bool
    report: PurgeReport
    deadline: float | None
    staged: dict[str, list[str]]
    counted_dependencies: set[int] = field(default_factory=set)
    dead_job_ids: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.ctx.database_url

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.report.complete = False
            return True
        return False

    # Conditions --------------------------------------------------------------------------

    def batch_is_old(self) -> ColumnElement[bool]:
        return func.coalesce(_BATCHES.c.finished_at, _BATCHES.c.created_at) < self.cutoff

    def job_is_done(self) -> ColumnElement[bool]:
        """Terminal and untouched since the cutoff: the compare-and-set of every DELETE."""
        return and_(_J.status.in_(_TERMINAL), _J.updated_at < self.cutoff)

    # Batches -----------------------------------------------------------------------------

    def purge_batches(self) -> None:
        busy = exists().where(_J.batch_id == _BATCHES.c.id, ~self.job_is_done())
        last = ""
        while not self.out_of_time():
            with session_scope(self.url) as session:
                page = session.execute(
                    select(_BATCHES.c.id, busy.label("busy"))
                    .where(_BATCHES.c.id > last, self.batch_is_old())
                    .order_by(_BATCHES.c.id).limit(BATCH_PAGE)
                ).all()
            if not page:
                return
            last = page[-1].id
            for batch_id, is_busy in page:
                if is_busy:
                    self.report.kept_batches += 1
                    continue
                if self.out_of_time():
                    return
                self.purge_batch(batch_id)

    def purge_batch(self, batch_id: str) -> None:
        """One batch in one transaction, or nothing of it."""
        counts: dict[str, int] | None = None
        try:
            with session_scope(self.url) as session:
                if self.dry_run:
                    counts, gone = self.count_batch(session, batch_id)
                else:
                    counts, gone = self.delete_batch(session, batch_id)
                    if counts is None:
                        session.rollback()
        except DatabaseUnavailableError as exc:
            if not _deadlock(exc):
                raise
            # A worker re-queued one of its jobs and updated it at the same moment (they lock in
            # the other order); PostgreSQL rolled this transaction back: the batch stays.
            log.warning("retention: batch %s kept: %s", batch_id, exc)
            self.report.kept_batches += 1
            return
        if counts is None:
            return
        self.add(counts, gone)
        self.report.batches += counts.pop("batches", 0)
        log.info("retention: batch %s %s (%d jobs)", batch_id, "would go" if self.dry_run else "purged", len(gone))

    def count_batch(self, session: Session, batch_id: str) -> tuple[dict[str, int] | None, list[_Gone]]:
        rows = session.execute(
            select(_J.job_id, _J.status, _J.content_fingerprint).where(_J.batch_id == batch_id)
        ).all()
        gone = [_Gone(*row) for row in rows]
        return {"batches": 1, **self.children(session, gone, batch_id=batch_id)}, gone

    def delete_batch(self, session: Session, batch_id: str) -> tuple[dict[str, int] | None, list[_Gone]]:
        if not _lock_batch(session, batch_id, self.batch_is_old()):
            return None, []  # purged meanwhile, finished again, or another purge holds it
        gone = [_Gone(*row) for row in session.execute(
            delete(_JOBS).where(_J.batch_id == batch_id, self.job_is_done())
            .returning(_J.job_id, _J.status, _J.content_fingerprint)
        ).all()]
        left = session.scalar(select(func.count()).select_from(_JOBS).where(_J.batch_id == batch_id))
        if left:  # a job was re-queued (or added) since the batch was selected: keep it whole
            self.report.kept_batches += 1
            return None, []
        counts = self.children(session, gone, batch_id=batch_id)
        deleted = session.execute(delete(_BATCHES).where(_BATCHES.c.id == batch_id, self.batch_is_old())).rowcount
        if deleted != 1:
            return None, []
        return {"batches": 1, **counts}, gone

    # Jobs without a batch ----------------------------------------------------------------

    def purge_adhoc_jobs(self) -> None:
        last = 0
        while not self.out_of_time():
            with session_scope(self.url) as session:
                ids = session.scalars(
                    select(_J.id).where(_J.id > last, _J.batch_id.is_(None), self.job_is_done())
                    .order_by(_J.id).limit(JOB_PAGE)
                ).all()
            if not ids:
                return
            last = ids[-1]
            # A transaction of its own whose first statement (SQLite: takes the write lock) is
            # the DELETE, the compare-and-set: a job re-queued since the SELECT stays.
            condition = and_(_J.id.in_(ids), _J.batch_id.is_(None), self.job_is_done())
            columns = (_J.job_id, _J.status, _J.content_fingerprint)
            with session_scope(self.url) as session:
                if self.dry_run:
                    rows = session.execute(select(*columns).where(condition)).all()
                else:
                    rows = session.execute(delete(_JOBS).where(condition).returning(*columns)).all()
                gone = [_Gone(*row) for row in rows]
                counts = self.children(session, gone)
            self.add(counts, gone)
            self.report.adhoc_jobs += len(gone)

    # What hangs off the jobs ---------------------------------------------------------------

    def children(self, session: Session, gone: Sequence[_Gone], *, batch_id: str | None = None) -> dict[str, int]:
        """Delete (or count) the rows keyed to these jobs (and batch); no FK points at them."""
        job_ids = [job.job_id for job in gone]
        counts = {"jobs": len(gone), "job_errors": 0, "report_runs": 0}
        dependency_ids: set[int] = set()
        for chunk in _chunks(job_ids):
            counts["job_errors"] += self.rows(session, _ERRORS, _ERRORS.c.job_id.in_(chunk))
            counts["report_runs"] += self.rows(session, _RUNS, _RUNS.c.job_id.in_(chunk))
            dependency_ids.update(session.scalars(select(_DEPS.c.id).where(
                or_(_DEPS.c.parent_job_id.in_(chunk), _DEPS.c.dependent_job_id.in_(chunk)))))
        if batch_id is not None:  # a window batch is a parent; of a rule of several, in parent_job_ids
            dependency_ids.update(session.scalars(select(_DEPS.c.id).where(
                or_(_DEPS.c.parent_job_id == batch_id, _DEPS.c.parent_job_ids.contains(batch_id)))))
        if self.dry_run:  # a row naming a batch and a report job is counted once
            dependency_ids -= self.counted_dependencies
            self.counted_dependencies |= dependency_ids
        counts["job_dependencies"] = len(dependency_ids)
        if not self.dry_run:
            for chunk in _chunks(sorted(dependency_ids)):
                session.execute(delete(_DEPS).where(_DEPS.c.id.in_(chunk)))
        return counts

    def rows(self, session: Session, table, condition: ColumnElement[bool]) -> int:
        if self.dry_run:
            return session.scalar(select(func.count()).select_from(table).where(condition)) or 0
        return session.execute(delete(table).where(condition)).rowcount

    def add(self, counts: dict[str, int], gone: Sequence[_Gone]) -> None:
        """Count what the committed transaction removed, then remove its jobs' work files."""
        for name in ("jobs", "job_errors", "report_runs", "job_dependencies"):
            setattr(self.report, name, getattr(self.report, name) + counts.get(name, 0))
        dead = {job.job_id for job in gone if job.status == JobStatus.DEAD}
        self.dead_job_ids |= dead
        self.report.staging_files += self.remove_staging(gone)

    def remove_staging(self, gone: Sequence[_Gone]) -> int:
        if not self.staged:
            return 0
        removed = 0
        for job in gone:
            for key in self.staged.pop(staging_prefix(self.ctx.storage, job.job_id, job.content_fingerprint), []):
                if not self.dry_run:
                    self.ctx.storage.delete(key)
                removed += 1
        return removed

    def unpark(self, publisher: Publisher | None) -> None:
        if self.dry_run:  # what a run with a publisher (beat's task, the command) removes
            self.report.parked_messages = len(self.dead_job_ids)
            return
        if not self.dead_job_ids or publisher is None:
            return
        try:
            publisher.unpark(set(self.dead_job_ids))
        except Exception as exc:  # noqa: BLE001 - the rows are gone; a stale parked message replays nothing
            log.warning("retention: could not remove %d parked message(s): %s", len(self.dead_job_ids), exc)
            return
        self.report.parked_messages = len(self.dead_job_ids)


def purge(ctx: FarmContext, *, older_than: dt.timedelta | None = None, dry_run: bool = False,
          publisher: Publisher | None = None, time_budget_s: float | None = None,
          now: dt.datetime | None = None) -> PurgeReport:
    """Purge what finished more than ``older_than`` (default ``TIMESHEET_RETENTION_DAYS``) ago.

    ``publisher``: remove purged DEAD jobs' parked messages through it. ``time_budget_s``:
    stop starting new batches after that long (``complete`` is then False). ``now``: naive UTC.
    """
    if older_than is None:
        older_than = dt.timedelta(days=ctx.settings.retention_days)
    if older_than <= dt.timedelta(0):
        raise ValueError("older_than must be positive")
    cutoff = (now or utc_now()) - older_than
    report = PurgeReport(cutoff=cutoff.isoformat(timespec="seconds") + "Z", dry_run=dry_run)
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    purger = _Purger(ctx, cutoff, dry_run, report, deadline, _staged(ctx.storage))
    try:
        purger.purge_batches()
        purger.purge_adhoc_jobs()
    finally:
        purger.unpark(publisher)
    log.info("retention: %s", report)
    return report


def staging_prefix(storage: Storage, job_id: str, content_fingerprint: str | None) -> str:
    """The ``staging/{token}/`` folder of a job's inbound run (``pipeline/checkpoint.py``)."""
    # Deferred: the checkpoint module brings pyarrow; only needed when something is staged.
    from timesheet_batch.pipeline.checkpoint import ChunkCheckpoint

    return ChunkCheckpoint(storage, job_id=job_id, content=content_fingerprint, may_resume=False).prefix


def _staged(storage: Storage) -> dict[str, list[str]]:
    """Every object in the staging area, by its ``staging/{token}/`` folder (usually none)."""
    from timesheet_batch.pipeline.checkpoint import STAGING

    folders: dict[str, list[str]] = {}
    for info in storage.list(f"{STAGING}/"):
        parts = info.key.split("/")
        if len(parts) >= 3:
            folders.setdefault(f"{parts[0]}/{parts[1]}/", []).append(info.key)
    return folders


def _lock_batch(session: Session, batch_id: str, still_old: ColumnElement[bool]) -> bool:
    """On PostgreSQL, lock the batch row (no job can be added to it until commit) unless another
    transaction holds it. SQLite has one writer at a time: its first DELETE takes the lock."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    stmt = select(_BATCHES.c.id).where(_BATCHES.c.id == batch_id, still_old).with_for_update(skip_locked=True)
    return session.execute(stmt).first() is not None


def _deadlock(exc: BaseException) -> bool:
    """Whether PostgreSQL broke a deadlock by rolling this transaction back (SQLSTATE 40P01)."""
    orig = getattr(exc.__cause__, "orig", None)
    return getattr(orig, "sqlstate", None) == "40P01"


def _chunks(values: Sequence) -> Iterator[Sequence]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]
