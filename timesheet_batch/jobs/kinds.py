"""The registry of job kinds: everything the farm needs to know about one kind of job, in one place.

A kind is a module that builds one :class:`JobKind` and calls :func:`register`. The built-in
kinds live in ``timesheet_batch.kinds`` (inbound file, export file, report); a deployment or
a test adds its own by naming its module in ``TIMESHEET_JOB_KINDS``. Discovery, submission,
the runner, the sweeper, cancel, dead-letter replay, routing, the Celery tasks and the CLI
look kinds up here and never switch on kind names.

Nothing here imports Celery: a kind names its task, and the messaging layer builds the task
and the messages from this description.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.logsafe import safe
from timesheet_batch.states import PRIORITY_QUEUES

if TYPE_CHECKING:  # annotations only
    from sqlalchemy import Row

    from timesheet_batch.context import FarmContext
    from timesheet_batch.db.repository import NewJob, QueuedJob
    from timesheet_batch.jobs.publisher import Publisher
    from timesheet_batch.pipeline import ChunkProgress

#: The package whose modules define the built-in kinds (imported on the first lookup).
BUILTIN_KINDS_PACKAGE = "timesheet_batch.kinds"
#: The longest hard time limit a kind may ask for: the broker redelivers an unacked message
#: after twice this (``messaging/config.py``), so a longer task would run twice.
MAX_TIME_LIMIT_S = 60 * 60
#: What the sweeper does with a job whose message or worker was lost.
REDISPATCH = "redispatch"  # publish it again (the kind is safe to run twice: outputs are replaced)
FAIL = "fail"  # mark it FAILED with the reason (a kind that must never run twice)


@dataclass(frozen=True)
class Submission:
    """A recorded job: its id, and whether the caller must publish its message now.

    ``publish`` is False when the request found a job that is already queued, running or
    done (an idempotent kind such as a report of a period asked for twice).
    """

    job_id: str
    publish: bool
    queued: QueuedJob | None = None


@dataclass(frozen=True)
class JobRun:
    """What a kind's ``run`` gets: the farm, the claimed row, and the chunk callback.

    ``on_chunk`` stores progress, and raises to stop the run at a chunk boundary when the job
    was cancelled or taken over, or the worker is shutting down; a kind that works in chunks
    calls it after each one (``final=True`` right before it publishes anything).
    """

    ctx: FarmContext
    job: Row
    attempts: int
    on_chunk: Callable[[ChunkProgress], None]

    @property
    def may_resume(self) -> bool:
        """Whether an earlier attempt may have left a checkpoint to resume from."""
        return self.attempts > 1 or (self.job.retry_count or 0) > 0


@dataclass(frozen=True)
class JobResult:
    """What a finished run produced: counts and the keys of its outputs (never record contents)."""

    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    output_key: str | None = None
    rejects_key: str | None = None
    details: dict = field(default_factory=dict)  # e.g. a report's key per format


def default_message(job: QueuedJob) -> tuple[tuple, dict]:
    """The task arguments of a job's message: its id only."""
    return (), {"job_id": job.job_id}


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    The fields are grouped by who reads them:

    - identity: ``name`` (stored in ``batch_job_log.report_type``; ``stored_as`` when a kind
      stores several names there, as reports store their report type) and ``task_name`` (the
      Celery task on the wire);
    - submission: ``params`` (a pydantic model, validated before anything is recorded or
      queued) and ``create`` (records the job; returns a :class:`Submission`);
    - discovery: ``window`` and ``discover`` (the jobs of one business date) for kinds a
      batch window creates;
    - routing: ``queue`` (a fixed queue) or None (the job row's priority, from its vendor);
      ``message`` (the task's arguments);
    - running: ``run`` (the work, given a claimed :class:`JobRun`),
      ``after_finish`` (what follows a finished job, e.g. a report's dependents),
      ``max_retries`` (None: ``TIMESHEET_MAX_RETRIES``), ``time_limit_s`` (the task's hard limit);
    - recovery: ``on_lost`` (:data:`REDISPATCH` or :data:`FAIL`), ``cancellable``, ``replayable``;
    - ad hoc messages: ``adhoc`` turns a message without a job id (``celery call``, beat) into
      one (given the message's task id, which a job it creates takes as its id), or None when
      the kind only runs submitted jobs.
    """

    name: str
    task_name: str
    params: type[BaseModel]
    create: Callable[[FarmContext, BaseModel], Submission]
    run: Callable[[JobRun], JobResult]
    description: str = ""
    stored_as: frozenset[str] = frozenset()
    queue: str | None = None
    message: Callable[[QueuedJob], tuple[tuple, dict]] = default_message
    window: str | None = None
    discover: Callable[[FarmContext, dt.date], list[NewJob]] | None = None
    after_finish: Callable[[FarmContext, str, str, Publisher | None], list[str]] | None = None
    adhoc: Callable[[FarmContext, tuple, dict, str], str] | None = None
    max_retries: int | None = None
    time_limit_s: int = MAX_TIME_LIMIT_S
    on_lost: str = REDISPATCH
    cancellable: bool = True
    replayable: bool = True
    stored_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stored_names", frozenset({self.name}) | self.stored_as)
        problems = []
        if self.on_lost not in (REDISPATCH, FAIL):
            problems.append(f"on_lost must be {REDISPATCH!r} or {FAIL!r}")
        if self.queue is not None and self.queue not in PRIORITY_QUEUES:
            problems.append(f"queue must be one of {', '.join(PRIORITY_QUEUES)} (the queues workers consume)")
        if not 10 <= self.time_limit_s <= MAX_TIME_LIMIT_S:
            problems.append(f"time_limit_s must be 10..{MAX_TIME_LIMIT_S}")
        if self.window is not None and self.discover is None:
            problems.append("a kind with a window needs discover")
        if problems:
            raise ConfigurationError(f"job kind {self.name}: {'; '.join(problems)}")

    def validate(self, raw: Any, ctx: FarmContext | None = None) -> BaseModel:
        """The kind's parameters from untrusted input; ConfigurationError names every bad field.

        With ``ctx``, the model's validators see it as ``info.context["ctx"]``, for checks that
        need the farm (e.g. a report's role must be one of the vendor file's roles)."""
        if isinstance(raw, self.params):
            return raw
        try:
            return self.params.model_validate(raw, context=None if ctx is None else {"ctx": ctx})
        except ValidationError as exc:
            problems = "; ".join(f"{safe('.'.join(str(p) for p in e['loc']), 200) or 'params'}: {e['msg']}"
                                 for e in exc.errors(include_url=False, include_input=False))
            raise ConfigurationError(f"bad parameters for job kind {self.name}: {problems}") from None

    def max_attempts(self, default_max_retries: int) -> int:
        """Claims a job of this kind may take before it is DEAD (the first run and its retries)."""
        retries = default_max_retries if self.max_retries is None else self.max_retries
        return retries + 1

    def soft_time_limit_s(self) -> int:
        """When the task is told to stop: five minutes (or a tenth) before its hard limit."""
        return self.time_limit_s - min(300, self.time_limit_s // 10)


_KINDS: dict[str, JobKind] = {}
_BY_STORED_NAME: dict[str, JobKind] = {}
_BY_TASK: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Add a kind; registering the same name again with another description is an error."""
    known = _KINDS.get(kind.name)
    if known is not None:
        if known == kind:
            return known
        raise ConfigurationError(f"job kind {kind.name} is registered twice")
    clash = [n for n in kind.stored_names if n in _BY_STORED_NAME] + (
        [kind.task_name] if kind.task_name in _BY_TASK else [])
    if clash:
        raise ConfigurationError(f"job kind {kind.name}: {', '.join(clash)} already belongs to another kind")
    _KINDS[kind.name] = kind
    _BY_TASK[kind.task_name] = kind
    for stored in kind.stored_names:
        _BY_STORED_NAME[stored] = kind
    return kind


#: Kind modules imported so far (the built-in package included).
_loaded_modules: set[str] = set()


def _builtins_loaded() -> None:
    # The built-in kinds register when their package is imported; the layers above import it
    # at start. A process that looks a kind up first (a test calling the sweeper) gets them
    # here: a plugin import by name, so this layer does not depend on the kinds' modules.
    if BUILTIN_KINDS_PACKAGE not in _loaded_modules:
        _loaded_modules.add(BUILTIN_KINDS_PACKAGE)
        importlib.import_module(BUILTIN_KINDS_PACKAGE)


def load_modules(names: Iterable[str]) -> None:
    """Import kind modules by name (``TIMESHEET_JOB_KINDS``); a missing one is a ConfigurationError."""
    _builtins_loaded()
    for name in names:
        if name in _loaded_modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"TIMESHEET_JOB_KINDS: cannot import {name!r}: {exc}") from None
        _loaded_modules.add(name)


def get(name: str) -> JobKind:
    """The kind called ``name``; ConfigurationError lists the known ones."""
    _builtins_loaded()
    kind = _KINDS.get(name)
    if kind is None:
        raise ConfigurationError(f"no job kind {str(name)[:60]!r} (known: {', '.join(sorted(_KINDS))})")
    return kind


def for_stored_name(stored: str) -> JobKind:
    """The kind of a job row (its ``report_type`` column)."""
    _builtins_loaded()
    kind = _BY_STORED_NAME.get(stored)
    if kind is None:
        raise ConfigurationError(f"no job kind stores jobs as {str(stored)[:60]!r}")
    return kind


def for_task(task_name: str) -> JobKind | None:
    """The kind a Celery task runs, or None for the farm's bookkeeping tasks."""
    _builtins_loaded()
    return _BY_TASK.get(task_name)


def for_window(window: str) -> JobKind:
    """The kind a batch window discovers."""
    _builtins_loaded()
    for kind in _KINDS.values():
        if kind.window == window:
            return kind
    windows = sorted(k.window for k in _KINDS.values() if k.window)
    raise ConfigurationError(f"unknown window {str(window)[:40]!r}: use {' or '.join(windows)}")


def all_kinds() -> list[JobKind]:
    """Every registered kind, in the order they registered."""
    _builtins_loaded()
    return list(_KINDS.values())
