"""A job kind defined only in the test suite (``tests/jobs/checksum_kind.py``) goes through the
whole farm: submit → worker → status → cancel → dead-letter replay → sweeper recovery after a
lost message. Real ``timesheet-batch`` commands, real ``celery worker`` processes, Redis and
PostgreSQL; the farm's own code knows nothing of the kind.
"""

from __future__ import annotations

import hashlib
import json

import redis
from sqlalchemy import select

from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob

KIND_ENV = {
    "TIMESHEET_JOB_KINDS": "tests.jobs.checksum_kind",
    "TIMESHEET_LEASE_S": "3",
    "TIMESHEET_LOST_AFTER_S": "2",
    "TIMESHEET_RETRY_BACKOFF_S": "0.2",
    "TIMESHEET_RETRY_BACKOFF_CAP_S": "1",
    "TIMESHEET_MAX_RETRIES": "0",  # the first transient failure makes a job DEAD
}


def _put(farm, key: str, data: bytes) -> None:
    farm.storage().write_bytes(key, data)


def _submit(farm, key: str) -> str:
    proc = farm.cli("submit", "CHECKSUM", "--params", json.dumps({"key": key}), "--json", check=True)
    return json.loads(proc.stdout)["job_id"]


def _job(farm, job_id: str) -> dict:
    """The job as ``timesheet-batch status JOB --json`` shows it."""
    return json.loads(farm.cli("status", job_id, "--json", check=True).stdout)


def _row(farm, job_id: str) -> BatchJob:
    """The job's row, read directly: cheap enough to poll."""
    with session_scope(farm.database_url) as session:
        return session.scalars(select(BatchJob).where(BatchJob.job_id == job_id)).one()


def _status(farm, job_id: str) -> str:
    return _row(farm, job_id).status


def test_a_kind_defined_in_the_tests_runs_through_the_whole_farm(farm, tmp_path):
    farm.env |= KIND_ENV
    farm.cli("db", "upgrade", check=True)
    data = bytes(range(256)) * 4096  # 1 MiB: 16 chunks of 64 KiB
    _put(farm, "blobs/a.bin", data)
    _put(farm, "blobs/slow.bin", data)
    _put(farm, "blobs/lost.bin", data)
    _put(farm, "blobs/flaky.bin", data)

    # Bad parameters are refused before anything is recorded or queued.
    refused = farm.cli("submit", "CHECKSUM", "--params", json.dumps({"key": "../etc/passwd"}))
    assert refused.returncode == 2 and "bad parameters for job kind CHECKSUM" in refused.stderr, refused.stderr
    unknown = farm.cli("submit", "NO_SUCH_KIND", "--params", "{}")
    assert unknown.returncode == 2 and "no job kind 'NO_SUCH_KIND'" in unknown.stderr, unknown.stderr

    # A lost message: submitted with no worker up, then the message vanishes from Redis (as in
    # a restart without persistence). The sweeper sends it again once the queue is empty.
    lost = _submit(farm, "blobs/lost.bin")
    broker = redis.Redis.from_url(farm.env["TIMESHEET_BROKER_URL"])
    assert broker.llen("low") == 1  # the kind's queue
    broker.delete("low")
    assert wait_until(lambda: json.loads(farm.cli("sweep", "--json", check=True).stdout)["redispatched"] == [lost],
                      timeout_s=30, interval_s=1)
    assert broker.llen("low") == 1

    control = tmp_path / "checksum-control"
    control.mkdir()
    farm.env["TSB_CHECKSUM_CONTROL_DIR"] = str(control)
    with farm.worker(concurrency=1):
        # Submit → worker → status.
        done = _submit(farm, "blobs/a.bin")
        assert wait_until(lambda: _status(farm, done) == "COMPLETED" and _status(farm, lost) == "COMPLETED",
                          timeout_s=90), farm.worker_log()
        job = _job(farm, done)
        assert (job["report_type"], job["priority"], job["records_read"]) == ("CHECKSUM", "low", len(data))
        digest = hashlib.sha256(data).hexdigest()
        assert job["output_file_path"] == "checksums/blobs/a.bin.sha256"
        assert (farm.storage_root / job["output_file_path"]).read_text() == f"{digest}  blobs/a.bin\n"

        # Cancel while it runs: it stops at the next chunk and writes nothing.
        (control / "delay").write_text("0.5")
        slow = _submit(farm, "blobs/slow.bin")
        assert wait_until(lambda: _row(farm, slow).chunks_done >= 1, timeout_s=60), farm.worker_log()
        assert "cancelled 1 job(s)" in farm.cli("cancel", slow, check=True).stdout
        assert wait_until(lambda: f"job {slow} CANCELLED" in farm.worker_log(), timeout_s=30), farm.worker_log()
        assert _job(farm, slow)["status"] == "CANCELLED"
        assert not (farm.storage_root / "checksums/blobs/slow.bin.sha256").exists()
        (control / "delay").unlink()

        # A transient failure with no retries left: DEAD and parked; replayed once the cause is fixed.
        (control / "down").write_text("")
        flaky = _submit(farm, "blobs/flaky.bin")
        assert wait_until(lambda: _status(farm, flaky) == "DEAD", timeout_s=60), farm.worker_log()
        listing = json.loads(farm.cli("dead-letter", "list", "--json", check=True).stdout)
        assert [(j["job_id"], j["kind"]) for j in listing["jobs"]] == [(flaky, "CHECKSUM")]
        assert listing["messages"] == 1 and "ConnectionError" in listing["jobs"][0]["errors"][0]
        (control / "down").unlink()
        assert "replayed 1 job(s)" in farm.cli("dead-letter", "replay", flaky, check=True).stdout
        assert wait_until(lambda: _status(farm, flaky) == "COMPLETED", timeout_s=60), farm.worker_log()
    assert json.loads(farm.cli("dead-letter", "list", "--json", check=True).stdout) == {"messages": 0, "jobs": []}
    assert _job(farm, flaky)["status"] == "COMPLETED"
    assert (farm.storage_root / "checksums/blobs/flaky.bin.sha256").exists()
