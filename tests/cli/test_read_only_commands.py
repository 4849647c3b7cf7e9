"""Commands that only look never migrate the database or create folders; ``db upgrade`` says
what it did; ``run`` options are checked; a broker that accepts connections but never answers
is an exit 3 within seconds, not a hang."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import create_engine, text


def _tables(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [("status",), ("dead-letter", "list"), ("tree", "x")])
def test_read_only_commands_do_not_migrate(embedded_farm, empty_database, command):
    farm = embedded_farm
    farm.env["TIMESHEET_DATABASE_URL"] = empty_database
    proc = farm.cli(*command)
    assert proc.returncode == 2, proc.stderr
    assert "timesheet-batch db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    assert _tables(empty_database) == 0


def test_status_on_a_fresh_embedded_default_creates_nothing(tmp_path):
    from tests.conftest import Farm, base_env

    data_dir = tmp_path / "timesheet-data"
    fresh = Farm(data_dir=data_dir, env=base_env())  # no TIMESHEET_* at all: ./timesheet-data
    proc = fresh.cli("status")
    assert proc.returncode == 2, proc.stderr
    assert "nothing has run" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no ./timesheet-data, no database file


def test_db_upgrade_says_what_it_did(embedded_farm, empty_database):
    farm = embedded_farm
    farm.env["TIMESHEET_DATABASE_URL"] = empty_database
    first = farm.cli("db", "upgrade", check=True)
    assert "upgraded from (empty) to" in first.stdout
    again = farm.cli("db", "upgrade", check=True)
    assert "already at" in again.stdout and "nothing to do" in again.stdout
    assert farm.cli("status", check=True).stdout.strip() == "no batches yet"


@pytest.mark.parametrize("timeout", ["-5", "0", "nan"])
def test_run_refuses_a_timeout_that_is_not_positive(embedded_farm, timeout):
    proc = embedded_farm.cli("run", "--workers", "0", "--timeout", timeout)
    assert proc.returncode == 2, proc.stderr
    assert "--timeout" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a hung broker)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("command", [("queue-status",), ("discover", "--window", "morning", "--date", "2026-11-20")])
def test_a_broker_that_never_answers_is_exit_3_within_seconds(embedded_farm, pg_url, silent_port, command):
    farm = embedded_farm
    farm.env["TIMESHEET_DATABASE_URL"] = pg_url
    farm.env["TIMESHEET_BROKER_URL"] = f"redis://127.0.0.1:{silent_port}/0"
    farm.env["TIMESHEET_SERVICE_TIMEOUT_S"] = "2"
    farm.cli("db", "upgrade", check=True)
    started = time.monotonic()
    proc = farm.cli(*command, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "broker" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 20
