"""Two beats at once: one batch per window and date, one report job and one output per report."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select

from tests.reports.helpers import make_context, write_sample
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.db.report_models import ReportRun
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.kinds import report as runner

DAY = dt.date(2026, 11, 20)


def _twice_at_once(fn):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def call():
        barrier.wait()
        try:
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_discover_calls_make_one_batch(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    write_sample(ctx, DAY, files=4, records=10)
    first, second = _twice_at_once(lambda: discover_window(ctx, window="morning", business_date=DAY))
    assert first.batch_id == second.batch_id
    assert len(first.queued) + len(second.queued) == 4  # each file dispatched by one emitter only
    with session_scope(pg_url) as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 1
        assert session.scalar(select(func.count()).select_from(BatchJob)) == 4


def test_the_same_scheduled_report_twice_at_once_runs_once(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    fired: list[str] = []

    def scheduled_report():  # what generate_report(report_type, role, trigger="schedule") does
        ref = runner.request_report(ctx, report_type_name="WEEKLY_REPORT", role="SUPERVISOR", day=DAY,
                                    trigger="schedule")
        return runner.run_report(ctx, job_id=ref.job_id, worker_id=threading.current_thread().name,
                                 publish=fired.append)

    outcomes = _twice_at_once(scheduled_report)
    assert outcomes[0].job_id == outcomes[1].job_id
    assert sorted(o.ran for o in outcomes) == [False, True]
    with session_scope(pg_url) as session:
        jobs = session.scalars(select(BatchJob).where(BatchJob.report_type == "WEEKLY_REPORT")).all()
        assert [(j.status, j.attempts, j.role) for j in jobs] == [("COMPLETED", 1, "SUPERVISOR")]
        assert session.scalar(select(func.count()).select_from(ReportRun)) == 1
    assert sorted(p.name for p in (ctx.storage.root / "reports" / "2026-11-16").iterdir()) == [
        "weekly-report-supervisor.csv", "weekly-report-supervisor.json"]
    # Asked again later (a third beat, an operator): the same job, nothing regenerated.
    again = runner.request_report(ctx, report_type_name="WEEKLY_REPORT", role="SUPERVISOR", day=DAY)
    assert (again.job_id, again.publish) == (outcomes[0].job_id, False)
