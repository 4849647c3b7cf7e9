"""``timesheet-batch report`` on the embedded default (SQLite, file broker, no server)."""

from __future__ import annotations

import json

DATE = "2026-11-20"


def test_report_command_on_the_embedded_default(embedded_farm):
    embedded_farm.cli("sample-data", "--date", DATE, "--files", "3", "--records", "20", check=True)
    run = embedded_farm.cli("run", "--window", "morning", "--date", DATE, "--workers", "1", "--json", timeout=300)
    assert run.returncode == 0, run.stderr
    proc = embedded_farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE, "--role", "SUPERVISOR", "--json")
    assert proc.returncode == 0, proc.stderr
    job = json.loads(proc.stdout)
    assert job["status"] == "COMPLETED" and job["records"] == 60
    reports = embedded_farm.storage_root / "reports" / DATE
    assert (reports / "daily-report-supervisor.csv").exists()
    # Its dependent (DAILY_SUMMARY, ON_SUCCESS by the packaged rules) ran too, and the tree shows both.
    assert json.loads((reports / "daily-summary-supervisor.json").read_text())["totals"]["records"] == 60
    tree = embedded_farm.cli("tree", job["job_id"], check=True).stdout
    assert "└─ DAILY_SUMMARY SUPERVISOR" in tree
    # Asked again: the same job, not a second report.
    again = embedded_farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE, "--role", "SUPERVISOR", "--json")
    assert json.loads(again.stdout)["job_id"] == job["job_id"]
    bad = embedded_farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE, "--role", "../x")
    assert bad.returncode == 2 and "role" in bad.stderr
