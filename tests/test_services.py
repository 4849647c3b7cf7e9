"""An unreachable service exits 3 within seconds; a missing storage root exits 2."""

from __future__ import annotations

import time


def _timed(farm, *args):
    started = time.monotonic()
    proc = farm.cli(*args, timeout=60)
    return proc, time.monotonic() - started


def test_unreachable_broker_exits_3(embedded_farm):
    embedded_farm.env["TIMESHEET_BROKER_URL"] = "redis://127.0.0.1:1/0"
    embedded_farm.env["TIMESHEET_SERVICE_TIMEOUT_S"] = "2"
    proc, elapsed = _timed(embedded_farm, "discover", "--window", "morning", "--date", "2026-11-20")
    assert proc.returncode == 3, proc.stderr
    assert "broker" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 30


def test_unreachable_database_exits_3(embedded_farm):
    embedded_farm.env["TIMESHEET_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
    embedded_farm.env["TIMESHEET_SERVICE_TIMEOUT_S"] = "2"
    proc, elapsed = _timed(embedded_farm, "status")
    assert proc.returncode == 3, proc.stderr
    assert "database" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 30


def test_missing_storage_root_exits_2(embedded_farm, tmp_path):
    embedded_farm.env["TIMESHEET_STORAGE_URL"] = f"file://{tmp_path / 'no-such-root'}"
    proc = embedded_farm.cli("run", "--window", "morning", "--workers", "0", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "no-such-root" in proc.stderr and "Traceback" not in proc.stderr
