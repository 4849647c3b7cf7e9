"""Operating the farm: graceful shutdown hands work back, cancel stops work without output,
dead letters replay, and a pickle message is refused. Real workers, Redis, PostgreSQL.
"""

from __future__ import annotations

import json
import pickle
import signal
import time
import uuid

import redis
from sqlalchemy import select, update

from tests.reliability.conftest import with_plugins
from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob

DATE = "2026-11-13"
SLOW = {"TIMESHEET_CHUNK_SIZE": "100", "TIMESHEET_LEASE_S": "3", "TIMESHEET_RETRY_BACKOFF_S": "0.2",
        "TIMESHEET_RETRY_BACKOFF_CAP_S": "1", "TIMESHEET_LOST_AFTER_S": "5"}


def _jobs(farm) -> list[BatchJob]:
    """The file jobs (dependent report jobs may appear after a batch; they are not ours here)."""
    with session_scope(farm.database_url) as session:
        stmt = select(BatchJob).where(BatchJob.report_type.in_(["PROCESS_FILE", "EXPORT_FILE"]))
        return session.scalars(stmt.order_by(BatchJob.id)).all()


def _sample(farm, files: int, records: int) -> list[dict]:
    proc = farm.cli("sample-data", "--date", DATE, "--files", str(files), "--records", str(records),
                    "--formats", "csv", "--json", check=True)
    farm.cli("db", "upgrade", check=True)
    return json.loads(proc.stdout)


def test_sigterm_hands_a_long_file_back_within_the_grace_period(farm):
    farm.env |= SLOW | {"TIMESHEET_SHUTDOWN_GRACE_S": "1"}
    # 2,000 chunks of 100: far past the 1 s grace period (400 once finished inside it, in a CI
    # run after small chunks got cheaper)
    (sample,) = _sample(farm, 1, 200_000)
    farm.cli("discover", "--window", "morning", "--date", DATE, check=True)
    with farm.worker(concurrency=1) as workers:
        assert wait_until(lambda: _jobs(farm)[0].chunks_done >= 3, timeout_s=60), farm.worker_log()
        started = time.monotonic()
        workers.process.send_signal(signal.SIGTERM)
        workers.process.wait(timeout=60)
        stopped_after = time.monotonic() - started
    assert stopped_after < 15, farm.worker_log()
    (job,) = _jobs(farm)
    assert job.status == "RETRYING" and job.attempts == 0  # handed back, the attempt refunded
    assert not list(farm.storage_root.glob("processed/**/*.parquet"))  # nothing published

    with farm.worker(concurrency=1):  # another worker picks the same message up and finishes
        assert wait_until(lambda: _jobs(farm)[0].status == "COMPLETED", timeout_s=120), farm.worker_log()
    (job,) = _jobs(farm)
    assert job.records_read == sample["records"] and job.attempts == 1


def test_cancel_a_batch_stops_running_and_queued_jobs_without_output(farm):
    farm.env |= SLOW
    _sample(farm, 4, 150_000)  # each far longer than the cancel command takes to start
    batch_id = json.loads(farm.cli("discover", "--window", "morning", "--date", DATE, "--json",
                                   check=True).stdout)["batch_id"]
    with farm.worker(concurrency=1):
        assert wait_until(lambda: any(j.status == "PROCESSING" and j.chunks_done >= 2 for j in _jobs(farm)),
                          timeout_s=60), farm.worker_log()
        assert "cancelled 4 job(s)" in farm.cli("cancel", batch_id, check=True).stdout
        assert wait_until(lambda: _batch_summarized(farm, batch_id), timeout_s=60), farm.worker_log()
    jobs = _jobs(farm)
    assert {j.status for j in jobs} == {"CANCELLED"}
    assert sum(1 for j in jobs if j.started_at is None) == 3  # the queued ones never started
    assert not list(farm.storage_root.glob("processed/**/*.parquet"))  # no output for cancelled files
    status = json.loads(farm.cli("status", batch_id, "--json", check=True).stdout)
    assert status["batch"]["files_cancelled"] == 4 and status["batch"]["status"] == "FAILED"


def _batch_summarized(farm, batch_id: str) -> bool:
    status = json.loads(farm.cli("status", batch_id, "--json", check=True).stdout)
    return status["batch"]["summary_key"] is not None


def test_dead_letter_replay_runs_a_dead_job_again(farm):
    farm.env |= SLOW | {"TIMESHEET_MAX_RETRIES": "0"}
    samples = _sample(farm, 3, 50)
    poison = samples[1]["key"]
    with_plugins(farm, TSB_POISON_SUBSTRING=poison.rsplit("/", 1)[1])
    farm.cli("discover", "--window", "morning", "--date", DATE, check=True)
    with farm.worker(concurrency=1):
        assert farm.wait(lambda: {j.status for j in _jobs(farm)} == {"COMPLETED", "DEAD"}, timeout_s=90,
                         sweep_every_s=5), farm.worker_log()
    listing = json.loads(farm.cli("dead-letter", "list", "--json", check=True).stdout)
    assert listing["messages"] == 1 and [j["input_file_path"] for j in listing["jobs"]] == [poison]
    assert listing["jobs"][0]["errors"]  # the error history is kept

    del farm.env["TSB_POISON_SUBSTRING"]  # the cause is fixed
    assert "replayed 1 job(s)" in farm.cli("dead-letter", "replay", "--all", check=True).stdout
    with farm.worker(concurrency=1):
        assert farm.wait(lambda: {j.status for j in _jobs(farm)} == {"COMPLETED"}, timeout_s=90, sweep_every_s=5), \
            farm.worker_log()
    listing = json.loads(farm.cli("dead-letter", "list", "--json", check=True).stdout)
    assert listing == {"messages": 0, "jobs": []}, farm.worker_log()
    assert farm.cli("dead-letter", "replay", str(uuid.uuid4())).returncode == 2


def test_a_pickle_message_is_refused(farm):
    _sample(farm, 1, 10)
    marker = farm.data_dir / "pwned"
    payload = pickle.dumps(((f"inbound/{DATE}/ACME/x.csv",), {}, {}))
    message = {
        "body": __import__("base64").b64encode(payload).decode(),
        "content-encoding": "binary",
        "content-type": "application/x-python-serialize",
        "headers": {"lang": "py", "task": "timesheet_batch.process_file", "id": str(uuid.uuid4()),
                    "argsrepr": "", "kwargsrepr": "", "retries": 0},
        "properties": {"body_encoding": "base64", "delivery_tag": str(uuid.uuid4()), "delivery_mode": 2,
                       "delivery_info": {"exchange": "high", "routing_key": "high"}, "priority": 0,
                       "correlation_id": str(uuid.uuid4()), "reply_to": ""},
    }
    redis.Redis.from_url(farm.env["TIMESHEET_BROKER_URL"]).lpush("high", json.dumps(message))
    with farm.worker(concurrency=1):
        assert wait_until(lambda: "ContentDisallowed" in farm.worker_log() or "pickle" in farm.worker_log(),
                          timeout_s=30), farm.worker_log()
    assert _jobs(farm) == [] and not marker.exists()


def test_dead_letter_replay_runs_a_dead_report_job_again(farm):
    """Replay finds a report job's kind by its stored report type and sends generate_report.

    The job is made DEAD in the database, as a worker does when its retries run out; before the
    job-kind registry, replaying it reset the row and then failed with a KeyError.
    """
    farm.env |= SLOW
    _sample(farm, 1, 20)
    made = json.loads(farm.cli("report", "--type", "WEEKLY_REPORT", "--date", DATE, "--json", check=True).stdout)
    report_file = farm.storage_root / made["output_file_path"]
    report_file.unlink()
    with session_scope(farm.database_url) as session:
        session.execute(update(BatchJob).where(BatchJob.job_id == made["job_id"])
                        .values(status="DEAD", error_message="retries exhausted: ConnectionError"))
    assert "replayed 1 job(s)" in farm.cli("dead-letter", "replay", made["job_id"], check=True).stdout
    assert _report_status(farm, made["job_id"]) == "QUEUED"
    with farm.worker(concurrency=1):
        assert wait_until(lambda: _report_status(farm, made["job_id"]) == "COMPLETED", timeout_s=60), \
            farm.worker_log()
    assert json.loads(farm.cli("status", made["job_id"], "--json", check=True).stdout)["status"] == "COMPLETED"
    assert report_file.exists() and "Task timesheet_batch.generate_report[" in farm.worker_log()


def _report_status(farm, job_id: str) -> str:
    with session_scope(farm.database_url) as session:
        return session.scalars(select(BatchJob.status).where(BatchJob.job_id == job_id)).one()
