"""SQLAlchemy 2 models. PostgreSQL in production, SQLite when embedded.

``batch_job_log`` keeps the seed's column names so its SQL (and the ``batch_job_summary``
view) keep working; the columns after ``updated_at`` are ours.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from timesheet_batch.states import BatchStatus, JobStatus

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants BIGSERIAL.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    """Declarative base for every table."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Batch(Base):
    """One window run for one business date: the unit a chord summarises."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("window", "business_date", name="uq_batches_window_date"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    correlation_id: Mapped[str] = mapped_column(String(50), index=True)
    window: Mapped[str] = mapped_column(String(20))
    business_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.RUNNING)
    total_files: Mapped[int] = mapped_column(Integer, default=0)
    files_completed: Mapped[int] = mapped_column(Integer, default=0)
    files_failed: Mapped[int] = mapped_column(Integer, default=0)
    files_dead: Mapped[int] = mapped_column(Integer, default=0)
    files_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    records_read: Mapped[int] = mapped_column(BigInteger, default=0)
    records_written: Mapped[int] = mapped_column(BigInteger, default=0)
    records_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utc_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    summary_key: Mapped[str | None] = mapped_column(String(500))
    # Set once by the summary that wins the claim: a redelivered callback does nothing.
    summarized_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BatchJob(Base):
    """One file's job (the seed's ``batch_job_log`` row)."""

    __tablename__ = "batch_job_log"
    __table_args__ = (
        UniqueConstraint("batch_id", "input_file_path", name="uq_batch_job_log_batch_input"),
        Index("idx_batch_job_log_status", "status"),
        Index("idx_batch_job_log_correlation", "correlation_id"),
        Index("idx_batch_job_log_submitted", "submitted_at"),
        Index("idx_batch_job_log_report_type", "report_type"),
        Index("idx_batch_job_log_batch", "batch_id", "status"),
        Index("idx_batch_job_log_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(50), unique=True)
    correlation_id: Mapped[str | None] = mapped_column(String(50))
    report_type: Mapped[str] = mapped_column(String(50))
    role: Mapped[str | None] = mapped_column(String(50))
    target_system: Mapped[str | None] = mapped_column(String(50))
    data_format: Mapped[str | None] = mapped_column(String(20))
    input_file_path: Mapped[str | None] = mapped_column(String(500))
    output_file_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    error_message: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    records_processed: Mapped[int | None] = mapped_column(BigInteger)
    processing_time_ms: Mapped[int | None] = mapped_column(BigInteger)
    worker_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utc_now, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_utc_now, onupdate=_utc_now, server_default=func.now()
    )
    # Ours, beyond the seed's columns.
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"))
    vendor_id: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(10))
    business_date: Mapped[dt.date | None] = mapped_column(Date)
    records_read: Mapped[int] = mapped_column(BigInteger, default=0)
    records_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    rejects_file_path: Mapped[str | None] = mapped_column(String(500))
    # Optimistic claim: an UPDATE ... WHERE version = :seen wins for exactly one worker.
    # The version a worker claimed is its fencing token: every later write checks it.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # While PROCESSING the owner renews this lease; an expired lease means the owner died.
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Claims so far, crashed ones included: bounds a poison file that kills its worker.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    content_fingerprint: Mapped[str | None] = mapped_column(String(100))
    # When a message for this job was last published (the sweeper finds lost ones).
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class JobError(Base):
    """One failed attempt of a job: the error history kept for DEAD jobs."""

    __tablename__ = "job_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(50), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    error_message: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utc_now)
