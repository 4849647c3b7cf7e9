"""Tables of reports and job dependencies (migration 0003_reports_dependencies).

A report job is a ``batch_job_log`` row like every other job (report_type, role, status,
output_file_path); :class:`ReportRun` adds what makes it idempotent — one row per
(report type, role, period), so two beats, a dependency and an ad hoc call for the same
report all end up with the same job. :class:`JobDependency` records each firing of a
dependency rule, once per (trigger, dependent type, role, period), with the parent's id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timesheet_batch.db.models import Base, BigId


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class ReportRun(Base):
    """The one report job of a (report type, role, period)."""

    __tablename__ = "report_runs"
    __table_args__ = (
        UniqueConstraint("report_type", "role", "period_key", name="uq_report_runs_type_role_period"),
        Index("idx_report_runs_parent", "parent_job_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(50), unique=True)
    report_type: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(50))
    period_key: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    # schedule | adhoc | dependency: who asked first.
    trigger: Mapped[str] = mapped_column(String(20))
    # The batch id or job id whose completion fired this report (NULL when not a dependent).
    parent_job_id: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utc_now)


class JobDependency(Base):
    """One firing of a dependency rule: parent → dependent job (or why none was made)."""

    __tablename__ = "job_dependencies"
    __table_args__ = (
        # Exactly once per parent (or, for a rule of several parents, per parent set) and period.
        UniqueConstraint("trigger_key", "dependent_type", "role", "period_key", name="uq_job_dependencies_once"),
        Index("idx_job_dependencies_parent", "parent_job_id"),
        Index("idx_job_dependencies_dependent", "dependent_job_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    trigger_key: Mapped[str] = mapped_column(String(200))
    parent_job_id: Mapped[str] = mapped_column(String(50))
    parent_type: Mapped[str] = mapped_column(String(50))
    # Every parent of a multi-parent rule (comma-separated ids); equals parent_job_id otherwise.
    parent_job_ids: Mapped[str] = mapped_column(Text)
    dependent_type: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(50))
    period_key: Mapped[str] = mapped_column(String(30))
    condition: Mapped[str] = mapped_column(String(20))
    # FIRED (dependent_job_id set) or ERROR (error_message set; the parent is untouched).
    status: Mapped[str] = mapped_column(String(20))
    dependent_job_id: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utc_now)
