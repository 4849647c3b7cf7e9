"""The whole farm on Redis and PostgreSQL with real worker processes.

Morning then nightly window over ≥ 50 files across all three priorities, plus three bad
files that must fail alone with their reasons; then every job row, the summaries and
every outbound file's record count are checked, and a second discovery adds nothing.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.outbound_counts import count_records
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.settings import PACKAGED_VENDORS_FILE
from timesheet_batch.vendors import load_catalog

DATE = "2026-11-20"


def _write_bad_files(farm) -> None:
    inbound = farm.storage_root / "inbound" / DATE
    (inbound / "NOBODY").mkdir(parents=True)
    (inbound / "NOBODY" / "stray.csv").write_text("EMP,NAME\n1,x\n")
    (inbound / "ACME" / "junk.csv").write_bytes(b"\x00\xff\xfe binary junk \x00" * 50)
    (inbound / "ACME" / "wrong-format.csv").write_text('[{"EMP": "A1", "NAME": "x"}]')


def test_morning_and_nightly_windows(farm):
    sample = farm.cli("sample-data", "--date", DATE, "--files", "54", "--records", "40",
                      "--bad-ratio", "0.05", "--seed", "3", "--json", check=True)
    manifest = {f["key"]: f for f in json.loads(sample.stdout)}
    _write_bad_files(farm)

    proc = farm.cli("run", "--date", DATE, "--workers", "2", "--json", timeout=600)
    assert proc.returncode == 1, proc.stderr + farm.worker_log()  # the three bad files failed
    morning, nightly = json.loads(proc.stdout)
    assert morning["total_files"] == 57 and morning["files_completed"] == 54
    assert morning["files_failed"] == 3
    assert nightly["status"] == "COMPLETED" and nightly["total_files"] == 54

    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    with session_scope(farm.env["TIMESHEET_DATABASE_URL"]) as session:
        jobs = session.scalars(select(BatchJob)).all()
        batches = {b.window: b for b in session.scalars(select(Batch))}
        inbound_jobs = [j for j in jobs if j.report_type == "PROCESS_FILE"]
        export_jobs = [j for j in jobs if j.report_type == "EXPORT_FILE"]
        assert {j.priority for j in inbound_jobs if j.vendor_id} == {"high", "medium", "low"}
        for job in inbound_jobs:
            if job.input_file_path in manifest:
                expected = manifest[job.input_file_path]
                assert job.status == "COMPLETED", (job.input_file_path, job.error_message)
                assert job.records_read == expected["records"]
                assert job.records_rejected == expected["expected_rejects"]
                assert job.records_processed == expected["records"] - expected["expected_rejects"]
                assert job.priority == catalog.get(job.vendor_id).priority
            else:
                assert job.status == "FAILED" and job.error_message
        reasons = {j.input_file_path.split("/")[-1]: j.error_message for j in inbound_jobs if j.status == "FAILED"}
        assert "NOBODY" in reasons["stray.csv"]
        assert reasons["junk.csv"] and reasons["wrong-format.csv"]
        assert len(export_jobs) == 54 and all(j.status == "COMPLETED" for j in export_jobs)
        good = sum(f["records"] - f["expected_rejects"] for f in manifest.values())
        assert batches["morning"].records_written == good

        for job in export_jobs:
            vendor = catalog.get(job.vendor_id)
            source = job.input_file_path.split("/")[-1].removesuffix(".parquet")
            expected = manifest[f"inbound/{DATE}/{vendor.id}/{source}"]
            path = farm.storage_root / job.output_file_path
            assert job.output_file_path.startswith(f"outbound/{vendor.id}/{DATE}/")
            assert count_records(path, vendor.output.format) == expected["records"] - expected["expected_rejects"]
            assert job.records_processed == expected["records"] - expected["expected_rejects"]

    summary = json.loads((farm.storage_root / "reports" / DATE / "batch-summary-morning.json").read_text())
    assert summary["files_by_status"] == {"COMPLETED": 54, "FAILED": 3}
    assert summary["records_rejected"] == sum(f["expected_rejects"] for f in manifest.values())

    again = farm.cli("discover", "--window", "morning", "--date", DATE, "--json", check=True)
    assert json.loads(again.stdout) == {"batch_id": morning["id"], "files": 57, "dispatched": 0}
    with session_scope(farm.env["TIMESHEET_DATABASE_URL"]) as session:
        assert len(session.scalars(select(BatchJob)).all()) == len(jobs)
