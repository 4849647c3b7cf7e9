"""Migrations create the same schema on SQLite (embedded) and PostgreSQL, repeatably."""

from __future__ import annotations

from sqlalchemy import inspect

from timesheet_batch.db.engine import get_engine
from timesheet_batch.db.migrate import upgrade_database

SEED_COLUMNS = {
    "job_id", "correlation_id", "report_type", "role", "target_system", "data_format",
    "input_file_path", "output_file_path", "status", "error_message", "retry_count",
    "submitted_at", "started_at", "completed_at", "records_processed", "processing_time_ms",
    "worker_id", "created_at", "updated_at",
}


def _check(url: str) -> None:
    inspector = inspect(get_engine(url))
    columns = {c["name"] for c in inspector.get_columns("batch_job_log")}
    assert columns >= SEED_COLUMNS
    assert "version" in columns
    assert "batch_job_summary" in inspector.get_view_names()
    assert "batches" in inspector.get_table_names()


def test_sqlite_upgrade_is_repeatable(tmp_path):
    url = f"sqlite:///{tmp_path / 'x' / 'db.sqlite'}"
    upgrade_database(url)
    upgrade_database(url)
    _check(url)


def test_postgresql_schema(pg_url):
    upgrade_database(pg_url)  # already at head: a no-op
    _check(pg_url)
