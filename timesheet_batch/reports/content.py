"""What each report type holds: totals and named sections of rows.

Aggregates never carry a name or an SSN; the provider report, the one that lists providers,
masks them with the role's policy (``VendorCatalog.masking_for``) before anything leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import session_scope
from timesheet_batch.pipeline.masking import mask_table
from timesheet_batch.reports import aggregate, joblog
from timesheet_batch.reports.periods import Period, ReportType


@dataclass
class ReportContent:
    """One report: what, for whom, over which period, its totals and its sections."""

    report_type: str
    role: str
    period: Period
    totals: dict = field(default_factory=dict)
    sections: dict[str, list[dict]] = field(default_factory=dict)
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def records(self) -> int:
        """How many records the report covers (``batch_job_log.records_processed``)."""
        return int(self.totals.get("records", 0))

    def as_dict(self) -> dict:
        """The JSON form (Decimals become exact strings when serialised)."""
        return {
            "report_type": self.report_type, "role": self.role,
            "period": {"key": self.period.key, "start": self.period.start.isoformat(),
                       "end": self.period.end.isoformat()},
            "generated_at": self.generated_at, "totals": self.totals, "sections": self.sections,
        }


def _aggregate_report(ctx: FarmContext, kind: str, role: str, period: Period) -> ReportContent:
    sums = aggregate.aggregate_period(ctx.storage, period)
    with session_scope(ctx.database_url) as session:
        vendors = joblog.vendor_exceptions(session, period, ctx.catalog)
    read = sum(v["records_read"] for v in vendors)
    rejected = sum(v["records_rejected"] for v in vendors)
    totals = {"files": sums.files, "records": sums.records, "hours": sums.hours, "amount": sums.amount,
              "records_read": read, "records_rejected": rejected,
              "reject_rate": round(rejected / read, 4) if read else 0.0}
    sections = {"by_county": sums.by_county, "by_vendor": sums.by_vendor, "by_service": sums.by_service,
                "reject_rates": vendors, "exceptions": [v for v in vendors if v["flagged"]]}
    return ReportContent(kind, role, period, totals, sections)


def _daily_summary(ctx: FarmContext, kind: str, role: str, period: Period) -> ReportContent:
    full = _aggregate_report(ctx, kind, role, period)
    busiest = max(full.sections["by_county"], key=lambda r: r["hours"], default=None)
    totals = {**full.totals, "vendors": len(full.sections["by_vendor"]),
              "vendors_flagged": len(full.sections["exceptions"]),
              "busiest_county": busiest["county_code"] if busiest else None}
    return ReportContent(kind, role, period, totals, {"exceptions": full.sections["exceptions"]})


def _provider_report(ctx: FarmContext, kind: str, role: str, period: Period) -> ReportContent:
    table = aggregate.provider_totals(ctx.storage, period)
    masked = mask_table(table, ctx.catalog.masking_for(role), ctx.masking_key)
    rows = masked.to_pylist()
    totals = {"providers": len(rows), "records": sum(r["records"] for r in rows),
              "hours": sum((r["hours"] for r in rows), Decimal("0.00")),
              "amount": sum((r["amount"] for r in rows), Decimal("0.00"))}
    return ReportContent(kind, role, period, totals, {"providers": rows})


def _reconciliation(ctx: FarmContext, kind: str, role: str, period: Period) -> ReportContent:
    with session_scope(ctx.database_url) as session:
        rows = joblog.reconciliation(session, period)
    totals = {"records": sum(r["processed"] for r in rows), "exported": sum(r["exported"] for r in rows),
              "balanced": all(r["balanced"] for r in rows)}
    return ReportContent(kind, role, period, totals, {"reconciliation": rows})


BUILDERS: dict[str, Callable[[FarmContext, str, str, Period], ReportContent]] = {
    ReportType.DAILY_REPORT: _aggregate_report,
    ReportType.WEEKLY_REPORT: _aggregate_report,
    ReportType.MONTHLY_REPORT: _aggregate_report,
    ReportType.QUARTERLY_REPORT: _aggregate_report,
    ReportType.YEARLY_REPORT: _aggregate_report,
    ReportType.DAILY_SUMMARY: _daily_summary,
    ReportType.PROVIDER_REPORT: _provider_report,
    ReportType.RECONCILIATION_REPORT: _reconciliation,
}


def build_report(ctx: FarmContext, *, report_type: str, role: str, period: Period) -> ReportContent:
    """The content of one report."""
    return BUILDERS[ReportType(report_type)](ctx, report_type, role, period)
