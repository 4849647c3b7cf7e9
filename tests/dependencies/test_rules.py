"""Dependency rules: loading, conditions, exactly-once firing, several parents, failures.

In process on PostgreSQL; ``publish`` is a list, so what would be sent is what is asserted.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.reports.helpers import make_context, run_window
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.db.report_models import JobDependency
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.kinds import report as runner
from timesheet_batch.reports import content, dependencies

DAY = __import__("datetime").date(2026, 11, 20)


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deps.yaml"
    path.write_text(text)
    return path


def _reports(url: str, report_type: str) -> list[BatchJob]:
    with session_scope(url) as session:
        return list(session.scalars(select(BatchJob).where(BatchJob.report_type == report_type)))


def _deps(url: str) -> list[JobDependency]:
    with session_scope(url) as session:
        return list(session.scalars(select(JobDependency).order_by(JobDependency.id)))


def test_the_packaged_rules_load_and_bad_files_name_the_variable(tmp_path):
    packaged = dependencies.load_rules(dependencies.PACKAGED_DEPENDENCIES_FILE)
    assert {r.name for r in packaged.rules} == {"morning-daily-report", "daily-summary", "day-reconciliation"}
    bad = {
        "cycle": "rules:\n- {name: a, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS}\n"
                 "- {name: b, parents: [DAILY_SUMMARY], dependent: DAILY_REPORT, condition: ON_SUCCESS}\n",
        "unknown": "rules:\n- {name: a, parents: [LUNCH], dependent: DAILY_SUMMARY, condition: ON_SUCCESS}\n",
        "condition": "rules:\n- {name: a, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: SOMETIMES}\n",
        "yaml": "rules: [",
    }
    for what, text in bad.items():
        with pytest.raises(ConfigurationError, match="TIMESHEET_DEPENDENCIES_FILE"):
            dependencies.load_rules(_rules(tmp_path, text))
        assert what


def test_a_batch_fires_its_dependents_once_however_often_called(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    batch_id = run_window(ctx, DAY)  # no files: a finished, COMPLETED morning batch
    sent: list[str] = []
    for _ in range(3):  # redelivered chord callbacks
        runner.fire_after_batch(ctx, batch_id=batch_id, publish=sent.append)
    [report] = _reports(pg_url, "DAILY_REPORT")
    assert sent == [report.job_id] and report.correlation_id == f"morning-{DAY}"
    [row] = _deps(pg_url)
    assert (row.parent_job_id, row.dependent_job_id, row.status) == (batch_id, report.job_id, "FIRED")


def test_a_failed_parent_never_fires_on_success_but_fires_on_completion(tmp_path, pg_url, monkeypatch):
    rules = _rules(tmp_path, "rules:\n"
                   "- {name: s, parents: [DAILY_REPORT], dependent: DAILY_SUMMARY, condition: ON_SUCCESS}\n"
                   "- {name: c, parents: [DAILY_REPORT], dependent: PROVIDER_REPORT, condition: ON_COMPLETION}\n")
    ctx = make_context(tmp_path, pg_url, dependencies_file=rules)
    monkeypatch.setitem(content.BUILDERS, "DAILY_REPORT", lambda *a: 1 / 0)
    ref = runner.request_report(ctx, report_type_name="DAILY_REPORT", role="SUPERVISOR", day=DAY)
    sent: list[str] = []
    outcome = runner.run_report(ctx, job_id=ref.job_id, worker_id="t", publish=sent.append)
    assert outcome.status == "FAILED" and "ZeroDivisionError" in outcome.error
    assert _reports(pg_url, "DAILY_SUMMARY") == []
    [provider] = _reports(pg_url, "PROVIDER_REPORT")
    assert sent == [provider.job_id]
    assert {(d.rule_name, d.status) for d in _deps(pg_url)} == {("s", "SKIPPED"), ("c", "FIRED")}


def test_a_rule_of_two_parents_fires_once_after_the_last(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    sent: list[str] = []
    morning = run_window(ctx, DAY, "morning")
    runner.fire_after_batch(ctx, batch_id=morning, publish=sent.append)
    assert _reports(pg_url, "RECONCILIATION_REPORT") == []  # the nightly window has not finished
    nightly = run_window(ctx, DAY, "nightly")
    barrier = threading.Barrier(4)

    def fire(batch_id):
        barrier.wait()
        runner.fire_after_batch(ctx, batch_id=batch_id, publish=sent.append)

    threads = [threading.Thread(target=fire, args=(b,)) for b in (morning, nightly, morning, nightly)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    [reconciliation] = _reports(pg_url, "RECONCILIATION_REPORT")
    assert sent.count(reconciliation.job_id) == 1
    [row] = [d for d in _deps(pg_url) if d.dependent_type == "RECONCILIATION_REPORT"]
    assert set(row.parent_job_ids.split(",")) == {morning, nightly}


def test_a_failure_in_the_dependency_step_leaves_the_parent_alone(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    batch_id = run_window(ctx, DAY)
    with session_scope(pg_url) as session:
        before = (repo.get_batch(session, batch_id=batch_id).status, repo.get_batch(session, batch_id=batch_id)
                  .summarized_at)

    def broken_broker(job_id):
        raise ConnectionError("broker went away")

    assert runner.fire_after_batch(ctx, batch_id=batch_id, publish=broken_broker) == []
    with session_scope(pg_url) as session:
        batch = repo.get_batch(session, batch_id=batch_id)
        assert (batch.status, batch.summarized_at) == before
    errors = [d for d in _deps(pg_url) if d.status == "ERROR"]
    assert len(errors) == 1 and "broker went away" in errors[0].error_message
    assert errors[0].parent_job_id == batch_id
