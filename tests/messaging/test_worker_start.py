"""A worker that cannot serve refuses to start (exit 2 or 3, named) instead of taking messages
it would drop: a bad vendor file, an unreachable database, a schema that was not migrated."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import create_engine, text


def _start_worker(farm, timeout_s: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "timesheet_batch", "worker", "-Q", "high,medium,low", "-c", "1",
         "--without-gossip", "--without-mingle"],
        env=farm.env, capture_output=True, text=True, timeout=timeout_s, cwd=farm.data_dir.parent,
    )
    return proc, time.monotonic() - started


def _queued_messages(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    return sum(client.llen(q) for q in ("high", "medium", "low"))


def test_a_bad_vendor_file_stops_the_worker_before_it_consumes(farm, tmp_path):
    vendors = tmp_path / "vendors.yaml"
    vendors.write_text("vendors:\n  - id: ACME\n    priority: urgent\n")
    farm.env["TIMESHEET_VENDORS_FILE"] = str(vendors)
    import redis

    redis.Redis.from_url(farm.env["TIMESHEET_BROKER_URL"]).lpush("low", b"not a message a worker may take")
    proc, elapsed = _start_worker(farm)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "worker not started" in proc.stderr and "ACME" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _queued_messages(farm.env["TIMESHEET_BROKER_URL"]) == 1  # nothing was taken
    assert elapsed < 45


def test_an_unreachable_database_stops_the_worker_with_exit_3(farm):
    farm.env["TIMESHEET_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
    farm.env["TIMESHEET_SERVICE_TIMEOUT_S"] = "2"
    proc, elapsed = _start_worker(farm)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "worker not started" in proc.stderr and "database" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 45


def test_a_database_that_was_not_migrated_stops_the_worker_and_stays_empty(farm, empty_database):
    farm.env["TIMESHEET_DATABASE_URL"] = empty_database
    proc, _ = _start_worker(farm)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "timesheet-batch db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            tables = connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
    finally:
        engine.dispose()
    assert tables == 0  # a worker never migrates


def test_bad_dependency_rules_stop_the_worker_naming_the_variable(farm, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - when: nothing-like-this\n")
    farm.env["TIMESHEET_DEPENDENCIES_FILE"] = str(rules)
    proc, _ = _start_worker(farm)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "TIMESHEET_DEPENDENCIES_FILE" in proc.stderr and "Traceback" not in proc.stderr


def test_a_report_roles_setting_the_vendor_file_does_not_know_stops_the_worker(farm):
    farm.env["TIMESHEET_REPORT_ROLES"] = "NOBODY"
    proc, _ = _start_worker(farm)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "TIMESHEET_REPORT_ROLES" in proc.stderr and "Traceback" not in proc.stderr
