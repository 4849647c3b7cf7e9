"""The embedded default: no TIMESHEET_* variable but the data dir, no server, real workers."""

from __future__ import annotations

import json


def test_run_sample_runs_both_windows_with_worker_processes(embedded_farm):
    proc = embedded_farm.cli("run", "--sample", "--workers", "2", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr + embedded_farm.worker_log()
    morning, nightly = json.loads(proc.stdout)
    assert morning["window"] == "morning" and nightly["window"] == "nightly"
    assert morning["status"] == nightly["status"] == "COMPLETED"
    assert morning["total_files"] == nightly["total_files"] > 0
    assert morning["records_rejected"] > 0  # the sample holds realistic bad records
    assert nightly["records_written"] == morning["records_written"]
    data = embedded_farm.data_dir
    assert (data / "timesheet.sqlite").exists() and (data / "broker" / "queue").is_dir()
    outbound = list((data / "storage" / "outbound").rglob("*.*"))
    assert len(outbound) == nightly["total_files"]
    log = (data / "logs" / "run-worker.log").read_text()
    assert "concurrency: 2 (prefork)" in log


def test_rerun_finds_the_finished_batches(embedded_farm):
    first = embedded_farm.cli("run", "--sample", "--workers", "1", "--window", "morning", "--json", timeout=600)
    assert first.returncode == 0, first.stderr
    second = embedded_farm.cli("run", "--sample", "--workers", "0", "--window", "morning", "--json", timeout=120)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)[0]["id"] == json.loads(first.stdout)[0]["id"]
