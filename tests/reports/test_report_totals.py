"""A report's totals equal totals computed independently from the inbound files.

The morning window runs in this process on PostgreSQL; the expected numbers come from
``expected.py`` (plain Python over the raw CSV / JSON files, the rules re-implemented).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from tests.reports.expected import expected_totals
from tests.reports.helpers import make_context, run_window, write_sample
from timesheet_batch.kinds import report as runner

DAY = dt.date(2026, 11, 20)


def _rows(report: dict, section: str, key: str) -> dict:
    return {r[key]: (r["records"], Decimal(r["hours"]), Decimal(r["amount"])) for r in report["sections"][section]}


def test_daily_report_matches_independent_totals(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url, report_formats="csv,json,xml")
    manifest = write_sample(ctx, DAY, files=9, records=80, bad_ratio=0.1)
    run_window(ctx, DAY)
    ref = runner.request_report(ctx, report_type_name="DAILY_REPORT", role="SUPERVISOR", day=DAY)
    outcome = runner.run_report(ctx, job_id=ref.job_id, worker_id="test")
    assert outcome.status == "COMPLETED", outcome.error

    report = json.loads((ctx.storage.root / outcome.output_keys["json"]).read_text())
    expected = expected_totals(ctx.storage.root, ctx.catalog, DAY)
    assert _rows(report, "by_county", "county_code") == expected["county_code"]
    assert _rows(report, "by_vendor", "vendor_id") == expected["vendor_id"]
    assert _rows(report, "by_service", "service_code") == expected["service_code"]
    good = sum(v[0] for v in expected["vendor_id"].values())
    assert report["totals"]["records"] == good == outcome.records
    assert Decimal(report["totals"]["amount"]) == sum(v[2] for v in expected["vendor_id"].values())

    # Reject rates per vendor, from batch_job_log, against the generator's exact counts.
    rates = {r["vendor_id"]: r for r in report["sections"]["reject_rates"]}
    for vendor_id, read in expected["read"].items():
        rejected = sum(f.expected_rejects for f in manifest if f.vendor_id == vendor_id)
        assert (rates[vendor_id]["records_read"], rates[vendor_id]["records_rejected"]) == (read, rejected)
        assert rates[vendor_id]["reject_rate"] == round(rejected / read, 4)
    assert {r["vendor_id"] for r in report["sections"]["exceptions"]} == {
        v for v, r in rates.items() if r["reject_rate"] > ctx.catalog.get(v).max_reject_ratio}
    assert {k.rsplit(".", 1)[1] for k in outcome.output_keys.values()} == {"csv", "json", "xml"}
    csv_text = (ctx.storage.root / outcome.output_keys["csv"]).read_text()
    assert csv_text.splitlines()[0].startswith("section,") and f"totals,{report['totals']['files']}," in csv_text


def test_weekly_report_sums_its_days_and_nothing_else(tmp_path, pg_url):
    ctx = make_context(tmp_path, pg_url)
    for day, seed in ((DAY, 1), (DAY + dt.timedelta(days=1), 2), (DAY + dt.timedelta(days=3), 3)):
        write_sample(ctx, day, files=3, records=40, bad_ratio=0.0, seed=seed)
        run_window(ctx, day)
    days = {}
    for day in (DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3)):
        ref = runner.request_report(ctx, report_type_name="DAILY_REPORT", role="ADMIN", day=day)
        days[day] = runner.run_report(ctx, job_id=ref.job_id, worker_id="t").records
    # 2026-11-20 is a Friday: its week is Mon 16th … Sun 22nd; the 23rd is next week's.
    ref = runner.request_report(ctx, report_type_name="WEEKLY_REPORT", role="ADMIN", day=DAY)
    weekly = runner.run_report(ctx, job_id=ref.job_id, worker_id="t")
    assert ref.period.key == "2026-W47" and weekly.output_keys["json"].startswith("reports/2026-11-16/")
    assert weekly.records == days[DAY] + days[DAY + dt.timedelta(days=1)]
