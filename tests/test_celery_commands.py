"""The card's commands: celery call (routed by vendor priority), flower, beat."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlalchemy import select

from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob

DATE = "2026-11-18"
VENDORS_FILE = Path(__file__).parent / "vendors_three_priorities.yaml"


def test_celery_call_routes_one_file_by_its_vendor_priority(farm):
    farm.env["TIMESHEET_VENDORS_FILE"] = str(VENDORS_FILE)
    sample = farm.cli("sample-data", "--date", DATE, "--files", "3", "--records", "25", "--json", check=True)
    key = next(f["key"] for f in json.loads(sample.stdout) if "/LOWCO/" in f["key"])
    farm.cli("db", "upgrade", check=True)
    proc = farm.celery("call", "timesheet_batch.process_file", "--args", json.dumps([key]))
    assert proc.returncode == 0, proc.stderr
    broker = redis.Redis.from_url(farm.env["TIMESHEET_BROKER_URL"])
    assert (broker.llen("low"), broker.llen("medium"), broker.llen("high")) == (1, 0, 0)

    def done() -> bool:
        with session_scope(farm.database_url) as session:
            return session.scalars(select(BatchJob.status)).all() == ["COMPLETED"]

    with farm.worker(concurrency=1):
        assert wait_until(done, timeout_s=90), farm.worker_log()
    with session_scope(farm.database_url) as session:
        job = session.scalars(select(BatchJob)).one()
    assert job.batch_id is None and job.priority == "low" and job.records_processed == 25
    assert (farm.storage_root / job.output_file_path).exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""


def test_flower_serves_the_dashboard_and_sees_tasks(farm):
    """Workers send no task events by default; Flower switches them on and then sees tasks."""
    port = _free_port()
    env = {**farm.env, "FLOWER_UNAUTHENTICATED_API": "true"}
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "timesheet_batch", "flower", f"--port={port}", "--address=127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _get(port, "/tasks")[0] == 200, timeout_s=60, interval_s=0.5)
        with farm.worker(concurrency=1):
            def pinged() -> bool:
                farm.celery("call", "timesheet_batch.ping")  # again and again until events are on
                status, body = _get(port, "/api/tasks")
                return status == 200 and b"timesheet_batch.ping" in body

            assert wait_until(pinged, timeout_s=90, interval_s=2), farm.worker_log()
    finally:
        flower.terminate()
        flower.wait(timeout=20)


def test_beat_starts_with_both_windows(farm):
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "timesheet_batch", "beat", "--loglevel", "DEBUG"],
        env=farm.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    time.sleep(6)
    beat.terminate()
    out, _ = beat.communicate(timeout=20)
    assert "morning-window" in out and "nightly-window" in out, out
    assert (farm.data_dir / "celerybeat-schedule").exists() or list(farm.data_dir.glob("celerybeat-schedule*"))


def test_schedule_uses_the_configured_windows_and_zone():
    from timesheet_batch.messaging.beat import beat_schedule

    schedule = beat_schedule()
    assert schedule["morning-window"]["schedule"].hour == {6}
    assert schedule["nightly-window"]["schedule"].hour == {22}
    assert schedule["morning-window"]["kwargs"] == {"window": "morning"}
