"""Reports read only what they need, and never let a name or an SSN out unmasked."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from tests.reports.helpers import make_context, run_window, write_sample
from timesheet_batch.kinds import report as runner
from timesheet_batch.reports import aggregate
from timesheet_batch.reports.periods import ReportType, default_day, period_for

DAY = dt.date(2026, 11, 20)


def test_monthly_report_lists_only_its_date_folders_and_reads_only_its_columns(tmp_path, pg_url, monkeypatch):
    ctx = make_context(tmp_path, pg_url)
    write_sample(ctx, DAY, files=3, records=30, bad_ratio=0.0)
    run_window(ctx, DAY)
    decoy = ctx.storage.root / "processed" / "2026-12-01" / "ACME"
    decoy.mkdir(parents=True)
    first = next((ctx.storage.root / "processed" / DAY.isoformat()).rglob("*.parquet"))
    (decoy / "late.csv.parquet").write_bytes(first.read_bytes())  # December: not November's

    listed, columns = [], []
    real_list, real_read = ctx.storage.list, pq.ParquetFile.read
    monkeypatch.setattr(ctx.storage, "list", lambda prefix: listed.append(prefix) or real_list(prefix))

    def spy_read(self, columns=None, **kw):
        seen.append(tuple(columns))
        return real_read(self, columns=columns, **kw)

    seen = columns
    monkeypatch.setattr(pq.ParquetFile, "read", spy_read)

    ref = runner.request_report(ctx, report_type_name="MONTHLY_REPORT", role="SUPERVISOR", day=DAY)
    outcome = runner.run_report(ctx, job_id=ref.job_id, worker_id="t")
    assert outcome.status == "COMPLETED" and ref.period.key == "2026-11"
    assert listed == [f"processed/2026-11-{d:02d}/" for d in range(1, 31)]
    assert set(columns) == {tuple(aggregate.AGGREGATE_COLUMNS)}
    report = json.loads((ctx.storage.root / outcome.output_keys["json"]).read_text())
    assert report["totals"]["files"] == 3


@pytest.mark.parametrize(("role", "ssn_shape"), [("CASE_WORKER", None), ("SUPERVISOR", r"***-**-")])
def test_provider_report_is_masked_for_its_role(tmp_path, pg_url, role, ssn_shape):
    ctx = make_context(tmp_path, pg_url)
    write_sample(ctx, DAY, files=3, records=30, bad_ratio=0.0)
    run_window(ctx, DAY)
    raw = pq.read_table(next((ctx.storage.root / "processed").rglob("*.parquet")))
    names = {n for n in raw.column("provider_name").to_pylist() if n}
    ssns = {s for s in raw.column("provider_ssn").to_pylist() if s}

    ref = runner.request_report(ctx, report_type_name="PROVIDER_REPORT", role=role, day=DAY)
    outcome = runner.run_report(ctx, job_id=ref.job_id, worker_id="t")
    for key in outcome.output_keys.values():
        text = (ctx.storage.root / key).read_text()
        assert not any(ssn in text for ssn in ssns)
        # CASE_WORKER sees initials only; SUPERVISOR's policy leaves names as they are.
        assert any(name in text for name in names) == (role == "SUPERVISOR")
    rows = json.loads((ctx.storage.root / outcome.output_keys["json"]).read_text())["sections"]["providers"]
    masked = {r["provider_ssn"] for r in rows if r["provider_ssn"]}
    if ssn_shape is None:
        assert masked <= {"[REDACTED]"}
    else:
        assert masked and all(s.startswith(ssn_shape) and len(s) == 11 for s in masked)
    # Aggregate reports carry no personal field at all.
    daily = runner.request_report(ctx, report_type_name="DAILY_REPORT", role="ADMIN", day=DAY)
    keys = runner.run_report(ctx, job_id=daily.job_id, worker_id="t").output_keys
    text = (ctx.storage.root / keys["json"]).read_text()
    assert not any(name in text for name in names) and not any(ssn in text for ssn in ssns)


def test_periods_of_the_scheduled_reports():
    # Each schedule reports on the period holding yesterday (local) when it fires at 05:30.
    fire = {ReportType.DAILY_REPORT: "2026-11-21", ReportType.WEEKLY_REPORT: "2026-11-23",
            ReportType.MONTHLY_REPORT: "2026-12-01", ReportType.QUARTERLY_REPORT: "2027-01-01",
            ReportType.YEARLY_REPORT: "2027-01-01"}
    expected = {ReportType.DAILY_REPORT: ("2026-11-20", "2026-11-20", "2026-11-20"),
                ReportType.WEEKLY_REPORT: ("2026-11-16", "2026-11-22", "2026-W47"),
                ReportType.MONTHLY_REPORT: ("2026-11-01", "2026-11-30", "2026-11"),
                ReportType.QUARTERLY_REPORT: ("2026-10-01", "2026-12-31", "2026-Q4"),
                ReportType.YEARLY_REPORT: ("2026-01-01", "2026-12-31", "2026")}
    for kind, day in fire.items():
        local = dt.datetime.fromisoformat(f"{day}T05:30:00-08:00")
        period = period_for(kind, default_day("America/Los_Angeles", local))
        assert (period.start.isoformat(), period.end.isoformat(), period.key) == expected[kind]
