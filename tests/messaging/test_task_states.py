"""Celery's view of a job is honest: a file that ends FAILED is a FAILURE in the result backend
(and in Flower), while its batch is still summarised; an ad hoc message gets a job row under
its task id, refused or not, and ``status TASK_ID`` answers."""

from __future__ import annotations

import json

from sqlalchemy import select

from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob

DATE = "2026-11-20"


def _celery_state(farm, task_id: str) -> tuple[str, str]:
    """(state, result text) as Flower and ``AsyncResult`` see them, from the result backend."""
    import redis

    raw = redis.Redis.from_url(farm.env["TIMESHEET_BROKER_URL"]).get(f"celery-task-meta-{task_id}")
    if raw is None:
        return "PENDING", ""
    meta = json.loads(raw)
    return meta["status"], json.dumps(meta["result"])


def test_a_failed_file_is_a_celery_failure_and_its_batch_is_still_summarised(farm):
    farm.cli("sample-data", "--date", DATE, "--files", "4", "--records", "20", check=True)
    (farm.storage_root / "inbound" / DATE / "ACME" / "junk.csv").write_bytes(b"\x00\xff\xfe junk \x00" * 40)
    batch_id = farm.cli("discover", "--window", "morning", "--date", DATE, check=True).stdout.strip()

    def summarised() -> bool:
        with session_scope(farm.database_url) as session:
            return session.get(Batch, batch_id).summarized_at is not None

    with farm.worker(concurrency=2):
        assert wait_until(summarised, timeout_s=120), farm.worker_log()  # no sweeper: the chord's own errback
    with session_scope(farm.database_url) as session:
        jobs = {j.input_file_path: (j.job_id, j.status) for j in session.scalars(select(BatchJob))}
        batch = session.get(Batch, batch_id)
        assert (batch.status, batch.files_failed, batch.files_completed) == ("FAILED", 1, 4)
    failed_id, status = jobs[f"inbound/{DATE}/ACME/junk.csv"]
    assert status == "FAILED"
    state, result = _celery_state(farm, failed_id)
    assert state == "FAILURE" and "JobNotCompletedError" in result and "FAILED" in result
    for job_id, status in jobs.values():
        if status == "COMPLETED":
            assert _celery_state(farm, job_id)[0] == "SUCCESS"
    log = "\n".join(path.read_text(errors="replace") for path in (farm.data_dir / "logs").glob("*.log"))
    assert "raised expected: JobNotCompletedError" in log
    assert "Traceback" not in log  # an expected outcome: one line, not an ERROR with a traceback


def test_ad_hoc_calls_get_a_job_row_under_their_task_id(farm):
    sample = json.loads(farm.cli("sample-data", "--date", DATE, "--files", "1", "--records", "10", "--json",
                                 check=True).stdout)
    farm.cli("db", "upgrade", check=True)
    good = farm.celery("call", "timesheet_batch.process_file", "--args", json.dumps([sample[0]["key"]]))
    unsafe = farm.celery("call", "timesheet_batch.process_file", "--args", json.dumps(["../../etc/passwd"]))
    nokey = farm.celery("call", "timesheet_batch.process_file")
    assert good.returncode == unsafe.returncode == nokey.returncode == 0, unsafe.stderr
    ids = {name: proc.stdout.strip() for name, proc in (("good", good), ("unsafe", unsafe), ("nokey", nokey))}

    def all_finished() -> bool:
        with session_scope(farm.database_url) as session:
            rows = session.scalars(select(BatchJob).where(BatchJob.job_id.in_(ids.values()))).all()
            return len(rows) == 3 and all(r.status in ("COMPLETED", "FAILED") for r in rows)

    with farm.worker(concurrency=1):
        assert wait_until(all_finished, timeout_s=90), farm.worker_log()
    good_status = json.loads(farm.cli("status", ids["good"], "--json", check=True).stdout)
    assert good_status["status"] == "COMPLETED" and good_status["records_processed"] == 10
    unsafe_status = json.loads(farm.cli("status", ids["unsafe"], "--json", check=True).stdout)
    assert unsafe_status["status"] == "FAILED" and "etc/passwd" in unsafe_status["input_file_path"]
    assert unsafe_status["error_message"]
    nokey_status = json.loads(farm.cli("status", ids["nokey"], "--json", check=True).stdout)
    assert nokey_status["status"] == "FAILED" and "storage key" in nokey_status["error_message"]
    assert _celery_state(farm, ids["good"])[0] == "SUCCESS"
    assert _celery_state(farm, ids["unsafe"])[0] == "FAILURE"
    assert _celery_state(farm, ids["nokey"])[0] == "FAILURE"
