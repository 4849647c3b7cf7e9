"""Dependency rules: when a job finishes, queue the report jobs that depend on it.

Rules come from a YAML file (``TIMESHEET_DEPENDENCIES_FILE``, default the packaged
``reports/dependencies.yaml``): parent job types (and optionally the parent's role) →
dependent report type, ``ON_SUCCESS`` or ``ON_COMPLETION``. A rule with several parents fires
once, when the last of them (same business date) has finished. A window batch is a parent of
type ``MORNING_WINDOW`` / ``NIGHTLY_WINDOW``; a report job is a parent of its report type, so
chains (a dependent with dependents) follow from the same rules.

Each firing is a ``job_dependencies`` row, unique per (trigger, dependent type, role, period)
where the trigger is the parent's id (or the rule, for several parents): a redelivered
callback fires nothing twice. :func:`fire_dependents` never raises: a failure is logged and
recorded as an ERROR row, and the parent's own state is never touched.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.exc import IntegrityError

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.report_models import JobDependency
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.logsafe import safe
from timesheet_batch.reports import jobs
from timesheet_batch.reports.periods import ReportType, period_for
from timesheet_batch.settings import Settings
from timesheet_batch.states import BatchStatus, JobStatus
from timesheet_batch.vendors.profile import ROLE_NAME_PATTERN, role_problem

log = logging.getLogger(__name__)

PACKAGED_DEPENDENCIES_FILE = Path(__file__).parent / "dependencies.yaml"
#: Parent job type of a window batch -> the window.
WINDOW_TYPES = {"MORNING_WINDOW": "morning", "NIGHTLY_WINDOW": "nightly"}
_SUCCESS = {JobStatus.COMPLETED, BatchStatus.COMPLETED}
_COMPLETION = _SUCCESS | {JobStatus.FAILED, JobStatus.DEAD, BatchStatus.FAILED}  # not CANCELLED


class Rule(BaseModel):
    """One rule: parents (all must finish) → dependent report type, on a condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    parents: tuple[str, ...] = Field(min_length=1)
    parent_role: str | None = Field(default=None, pattern=ROLE_NAME_PATTERN)
    dependent: str
    condition: Literal["ON_SUCCESS", "ON_COMPLETION"]
    roles: tuple[Annotated[str, Field(pattern=ROLE_NAME_PATTERN)], ...] | None = None

    @field_validator("parents")
    @classmethod
    def _known_parents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = set(WINDOW_TYPES) | {t.value for t in ReportType}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown parent job type(s) {unknown}; known: {sorted(known)}")
        if len(set(value)) != len(value):
            raise ValueError("a parent job type is named twice")
        return value

    @field_validator("dependent")
    @classmethod
    def _report_dependent(cls, value: str) -> str:
        if value not in {t.value for t in ReportType}:
            raise ValueError(f"dependent must be a report type, one of {[t.value for t in ReportType]}")
        return value

    @property
    def trigger(self) -> str:
        return "single" if len(self.parents) == 1 else "all"


class RuleSet(BaseModel):
    """The whole dependency file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique")
        _check_acyclic(self.rules)
        return self

    def check_roles(self, roles: Collection[str]) -> RuleSet:
        """Every role a rule names is a role of the vendor file, exactly as spelled there; else
        ConfigurationError naming the variable, the rule and the role (only the vendor file
        knows the roles, so this is checked where both are at hand)."""
        problems = [f"rule {rule.name!r}: {field}: {problem}"
                    for rule in self.rules
                    for field, named in (("parent_role", (rule.parent_role,) if rule.parent_role else ()),
                                         ("roles", rule.roles or ()))
                    for role in named if (problem := role_problem(role, roles))]
        if problems:
            raise ConfigurationError("TIMESHEET_DEPENDENCIES_FILE: " + "; ".join(problems))
        return self

    def matching(self, parent: Parent) -> list[Rule]:
        """The rules this parent takes part in."""
        if not self.enabled:
            return []
        return [r for r in self.rules if parent.job_type in r.parents
                and (r.parent_role is None or r.parent_role == parent.role)]


def _check_acyclic(rules: tuple[Rule, ...]) -> None:
    edges: dict[str, set[str]] = {}
    for rule in rules:
        for parent in rule.parents:
            edges.setdefault(parent, set()).add(rule.dependent)

    def visit(node: str, path: tuple[str, ...]) -> None:
        if node in path:
            raise ValueError(f"dependency cycle: {' -> '.join((*path, node))}")
        for child in edges.get(node, ()):
            visit(child, (*path, node))

    for start in edges:
        visit(start, ())


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a dependency file; ConfigurationError names the file and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RuleSet.model_validate(raw or {})
    except OSError as exc:
        raise ConfigurationError(f"TIMESHEET_DEPENDENCIES_FILE: cannot read {safe(path)}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"TIMESHEET_DEPENDENCIES_FILE: {safe(path)} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{safe('.'.join(map(str, e['loc'])), 200)}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"TIMESHEET_DEPENDENCIES_FILE: {safe(path)}: {problems}") from None


def rules_for(settings: Settings) -> RuleSet:
    """The configured rules (re-read when the file changes)."""
    path = Path(settings.dependencies_file or PACKAGED_DEPENDENCIES_FILE)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _cached_rules(str(path), stamp)


@functools.lru_cache(maxsize=4)
def _cached_rules(path: str, _stamp: int) -> RuleSet:
    return load_rules(path)


@dataclass(frozen=True)
class Parent:
    """A finished job as a parent: its id, type, outcome and business date."""

    job_id: str
    job_type: str
    status: str
    day: dt.date
    role: str | None = None
    correlation_id: str | None = None


def parent_of_batch(session, *, batch_id: str) -> Parent | None:
    """A summarised window batch as a parent (``MORNING_WINDOW`` …); None while it runs."""
    batch = repo.get_batch(session, batch_id=batch_id)
    if batch is None or batch.summarized_at is None:
        return None
    return Parent(batch.id, f"{batch.window.upper()}_WINDOW", batch.status, batch.business_date,
                  None, batch.correlation_id)


def parent_of_report(session, *, job_id: str) -> Parent | None:
    """A finished report job as a parent (of its report type); None while it runs."""
    job = repo.get_job(session, job_id=job_id)
    run = jobs.get_run(session, job_id=job_id)
    if job is None or run is None or job.status not in _COMPLETION | {JobStatus.CANCELLED}:
        return None
    return Parent(job.job_id, job.report_type, job.status, run.period_start, job.role, job.correlation_id)


def condition_met(condition: str, status: str) -> bool:
    """ON_SUCCESS: the parent completed. ON_COMPLETION: it completed or failed (not cancelled)."""
    return status in (_SUCCESS if condition == "ON_SUCCESS" else _COMPLETION)


def fire_dependents(ctx: FarmContext, parent: Parent, *, publish: Callable[[str], None]) -> list[str]:
    """Queue the dependents of a finished parent; their job ids. Never raises."""
    try:
        rules = rules_for(ctx.settings).check_roles(ctx.catalog.roles).matching(parent)
    except Exception as exc:  # a broken rules file must not break the parent
        log.error("dependencies of %s not fired: %s", parent.job_id, safe(exc))
        return []
    published = []
    for rule in rules:
        for role in _roles(rule, parent, ctx.settings):
            try:
                ref = _fire_one(ctx, rule, parent, role)
                if ref is not None and ref.publish:
                    publish(ref.job_id)
                    published.append(ref.job_id)
            except Exception as exc:  # noqa: BLE001 - recorded; the parent stays as it is
                log.exception("dependency %s of %s (%s) failed", safe(rule.name), parent.job_id, safe(role))
                _record_error(ctx, rule, parent, role, exc)
    return published


def _roles(rule: Rule, parent: Parent, settings: Settings) -> tuple[str, ...]:
    if rule.roles:
        return rule.roles
    return (parent.role,) if parent.role else tuple(jobs.report_roles(settings))


def _fire_one(ctx: FarmContext, rule: Rule, parent: Parent, role: str) -> jobs.ReportJobRef | None:
    """Record the firing (once) and ensure the dependent job; None when nothing is to run."""
    jobs.check_role(role, ctx.catalog.roles)  # a parent's role, or TIMESHEET_REPORT_ROLES: checked before now
    period = period_for(ReportType(rule.dependent), parent.day)
    with session_scope(ctx.database_url) as session:
        parents = _all_parents(session, rule, parent, role)
        if parents is None:
            return None  # another parent of the rule has not finished yet
        met = all(condition_met(rule.condition, p.status) for p in parents)
        record = JobDependency(
            rule_name=rule.name, trigger_key=parent.job_id if rule.trigger == "single" else f"rule:{rule.name}",
            parent_job_id=parent.job_id, parent_type=parent.job_type,
            parent_job_ids=",".join(p.job_id for p in parents), dependent_type=rule.dependent, role=role,
            period_key=period.key, condition=rule.condition, status="FIRED" if met else "SKIPPED",
            error_message=None if met else _unmet(rule, parents), created_at=repo.utc_now(),
        )
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            return None  # fired already (a redelivered callback, or the other parent got there first)
        if not met:
            return None
        ref = jobs.ensure_report_job(
            session, report_type=rule.dependent, role=role, period=period,
            trigger="dependency", data_format=ctx.settings.report_formats.replace(" ", ""),
            parent_job_id=parent.job_id, correlation_id=parent.correlation_id,
        )
        record.dependent_job_id = ref.job_id
    log.info("dependency %s: %s %s -> %s %s (%s)", safe(rule.name), parent.job_type, parent.job_id,
             rule.dependent, ref.job_id, safe(role))
    return ref


def _unmet(rule: Rule, parents: list[Parent]) -> str:
    states = ", ".join(f"{p.job_type} {p.status}" for p in parents)
    return f"{rule.condition} not met: {states}"


def _all_parents(session, rule: Rule, parent: Parent, role: str) -> list[Parent] | None:
    """Every parent of the rule for the parent's date, or None if one has not finished."""
    found = []
    for job_type in rule.parents:
        if job_type == parent.job_type:
            found.append(parent)
            continue
        other = _finished_parent(session, job_type, parent.day, rule.parent_role or parent.role or role)
        if other is None:
            return None
        found.append(other)
    return found


def _finished_parent(session, job_type: str, day: dt.date, role: str) -> Parent | None:
    if job_type in WINDOW_TYPES:
        batch = repo._find_batch(session, window=WINDOW_TYPES[job_type], business_date=day)
        return None if batch is None else parent_of_batch(session, batch_id=batch.id)
    run = jobs.find_run(session, report_type=job_type, role=role,
                        period_key=period_for(ReportType(job_type), day).key)
    return None if run is None else parent_of_report(session, job_id=run.job_id)


def _record_error(ctx: FarmContext, rule: Rule, parent: Parent, role: str, exc: BaseException) -> None:
    """An ERROR row for the tree and the operator; its own key, so a later retry may still fire."""
    try:
        with session_scope(ctx.database_url) as session:
            session.add(JobDependency(
                rule_name=rule.name, trigger_key=f"error:{uuid.uuid4()}", parent_job_id=parent.job_id,
                parent_type=parent.job_type, parent_job_ids=parent.job_id, dependent_type=rule.dependent,
                role=str(role)[:50], period_key=parent.day.isoformat(), condition=rule.condition,
                status="ERROR", error_message=f"{type(exc).__name__}: {exc}"[:2000], created_at=repo.utc_now(),
            ))
    except Exception:  # noqa: BLE001 - the database itself may be what failed
        log.exception("could not record the failed dependency %s of %s", safe(rule.name), parent.job_id)
