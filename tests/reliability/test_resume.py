"""A worker SIGKILLed mid-file: the job is claimed again and resumes after its last
committed chunk; the output holds every record exactly once."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from sqlalchemy import select

from tests.reliability.conftest import with_plugins
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob

DATE = "2026-11-21"
FILE_JOB = BatchJob.report_type == "PROCESS_FILE"


def test_killed_mid_file_resumes_after_the_last_committed_chunk(fault_farm, tmp_path):
    farm = with_plugins(fault_farm, TSB_CRASH_AT_CHUNK="30", TSB_CRASH_MARKER=str(tmp_path / "crashed"))
    (sample,) = json.loads(farm.cli("sample-data", "--date", DATE, "--files", "1", "--records", "6000",
                                    "--formats", "csv", "--bad-ratio", "0.02", "--json", check=True).stdout)
    farm.cli("discover", "--window", "morning", "--date", DATE, check=True)

    def done() -> bool:
        with session_scope(farm.database_url) as session:
            return session.scalars(select(BatchJob.status).where(FILE_JOB)).first() == "COMPLETED"

    with farm.worker(concurrency=1):
        assert farm.wait(done, timeout_s=120, sweep_every_s=5), farm.worker_log()
    assert (tmp_path / "crashed").exists()  # the first attempt really died at chunk 30
    assert "resuming after 30 committed chunk(s)" in farm.worker_log()
    with session_scope(farm.database_url) as session:
        job = session.scalars(select(BatchJob).where(FILE_JOB)).one()
    assert job.attempts == 2
    assert job.records_read == sample["records"] and job.records_rejected == sample["expected_rejects"]
    numbers = pq.read_table(farm.storage_root / job.output_file_path).column("record_number").to_pylist()
    assert len(numbers) == len(set(numbers)) == sample["records"] - sample["expected_rejects"]
    assert not list(farm.storage_root.glob("staging/**/*.parquet"))
