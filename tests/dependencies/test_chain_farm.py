"""A window's summary fires a dependency chain on real Redis, PostgreSQL and worker processes.

Rules: MORNING_WINDOW → DAILY_REPORT → DAILY_SUMMARY → PROVIDER_REPORT (three levels below
the batch), and MORNING_WINDOW + NIGHTLY_WINDOW → RECONCILIATION_REPORT. Then the same
scheduled report is sent twice at once through ``celery call``, and asked for again by the
CLI: one job, one output.
"""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.db.report_models import JobDependency

DATE = "2026-11-20"
RULES = """rules:
  - {name: daily, parents: [MORNING_WINDOW], dependent: DAILY_REPORT, condition: ON_COMPLETION}
  - {name: summary, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS}
  - {name: providers, parents: [DAILY_SUMMARY], dependent: PROVIDER_REPORT, condition: ON_SUCCESS,
     roles: [CASE_WORKER]}
  - {name: recon, parents: [MORNING_WINDOW, NIGHTLY_WINDOW], dependent: RECONCILIATION_REPORT,
     condition: ON_COMPLETION}
"""
REPORT_TYPES = ("DAILY_REPORT", "DAILY_SUMMARY", "PROVIDER_REPORT", "RECONCILIATION_REPORT")


def _report_jobs(url: str) -> dict[str, list[BatchJob]]:
    with session_scope(url) as session:
        rows = session.scalars(select(BatchJob).where(BatchJob.batch_id.is_(None))).all()
    out: dict[str, list[BatchJob]] = {}
    for row in rows:
        out.setdefault(row.report_type, []).append(row)
    return out


def _all_done(url: str, types) -> bool:
    jobs = _report_jobs(url)
    return all(t in jobs and all(j.status == "COMPLETED" for j in jobs[t]) for t in types)


def test_window_summary_fires_a_three_level_chain_and_a_two_parent_rule(farm):
    rules = farm.data_dir / "deps.yaml"
    rules.write_text(RULES)
    farm.env["TIMESHEET_DEPENDENCIES_FILE"] = str(rules)
    url = farm.env["TIMESHEET_DATABASE_URL"]
    farm.cli("sample-data", "--date", DATE, "--files", "6", "--records", "30", "--seed", "5", check=True)
    with farm.worker(concurrency=2):
        proc = farm.cli("run", "--date", DATE, "--workers", "0", "--json", timeout=180)
        assert proc.returncode == 0, proc.stderr + farm.worker_log()
        morning, nightly = json.loads(proc.stdout)
        assert wait_until(lambda: _all_done(url, REPORT_TYPES), timeout_s=60), farm.worker_log()
        _check_chain(url, morning["id"], nightly["id"])
        tree = farm.cli("tree", morning["id"], check=True).stdout
        assert "│     └─ PROVIDER_REPORT CASE_WORKER" in tree, tree  # third level below the batch
        _double_beat(farm, url)
    for kind in REPORT_TYPES:
        assert (farm.storage_root / "reports" / DATE / f"{kind.lower().replace('_', '-')}-"
                f"{'case_worker' if kind == 'PROVIDER_REPORT' else 'supervisor'}.json").exists()


def _check_chain(url: str, morning_id: str, nightly_id: str) -> None:
    jobs = _report_jobs(url)
    assert {k: len(v) for k, v in jobs.items()} == dict.fromkeys(REPORT_TYPES, 1)
    with session_scope(url) as session:
        edges = {(d.parent_job_id, d.dependent_job_id) for d in session.scalars(select(JobDependency))}
    daily, summary, providers = (jobs[t][0].job_id for t in REPORT_TYPES[:3])
    assert {(morning_id, daily), (daily, summary), (summary, providers)} <= edges
    recon = jobs["RECONCILIATION_REPORT"][0]
    assert (nightly_id, recon.job_id) in edges or (morning_id, recon.job_id) in edges
    assert all(j[0].correlation_id == f"morning-{DATE}" for t, j in jobs.items() if t != "RECONCILIATION_REPORT")


def _double_beat(farm, url: str) -> None:
    kwargs = json.dumps({"report_type": "WEEKLY_REPORT", "date": DATE, "role": "SUPERVISOR", "trigger": "schedule"})
    command = [sys.executable, "-m", "celery", "-A", "timesheet_batch", "call", "timesheet_batch.generate_report",
               "--kwargs", kwargs]
    beats = [subprocess.Popen(command, env=farm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    assert [b.wait(60) for b in beats] == [0, 0]
    assert wait_until(lambda: _all_done(url, ["WEEKLY_REPORT"]), timeout_s=60), farm.worker_log()
    [weekly] = _report_jobs(url)["WEEKLY_REPORT"]
    assert (weekly.attempts, weekly.output_file_path) == (1, "reports/2026-11-16/weekly-report-supervisor.json")
    again = farm.cli("report", "--type", "WEEKLY_REPORT", "--date", DATE, "--role", "SUPERVISOR", "--json",
                     check=True)
    assert json.loads(again.stdout)["job_id"] == weekly.job_id
