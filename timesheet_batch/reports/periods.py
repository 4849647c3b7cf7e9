"""Report types and the period each covers.

A report covers whole business dates (the ``processed/{date}/`` folders), from ``start`` to
``end`` inclusive. Given any day, :func:`period_for` returns the period of that type which
contains it; a scheduled report (no date given) covers the period containing *yesterday* in
the farm's zone, so the Monday 05:30 weekly report covers last Monday–Sunday, the monthly
one on the 1st covers last month, and so on.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from timesheet_batch.errors import ConfigurationError


class ReportType(enum.StrEnum):
    """Report job types (stored in ``batch_job_log.report_type``)."""

    DAILY_REPORT = "DAILY_REPORT"
    WEEKLY_REPORT = "WEEKLY_REPORT"
    MONTHLY_REPORT = "MONTHLY_REPORT"
    QUARTERLY_REPORT = "QUARTERLY_REPORT"
    YEARLY_REPORT = "YEARLY_REPORT"
    DAILY_SUMMARY = "DAILY_SUMMARY"  # the headline of a day (a dependent of DAILY_REPORT)
    PROVIDER_REPORT = "PROVIDER_REPORT"  # hours per provider of a day, masked for the role
    RECONCILIATION_REPORT = "RECONCILIATION_REPORT"  # records in (morning) vs out (nightly)


_SPAN = {
    ReportType.DAILY_REPORT: "day",
    ReportType.DAILY_SUMMARY: "day",
    ReportType.PROVIDER_REPORT: "day",
    ReportType.RECONCILIATION_REPORT: "day",
    ReportType.WEEKLY_REPORT: "week",
    ReportType.MONTHLY_REPORT: "month",
    ReportType.QUARTERLY_REPORT: "quarter",
    ReportType.YEARLY_REPORT: "year",
}


@dataclass(frozen=True)
class Period:
    """Business dates ``start`` … ``end`` (inclusive) and their stable key (``2026-W47`` …)."""

    start: dt.date
    end: dt.date
    key: str

    def days(self) -> list[dt.date]:
        """Every date of the period, in order."""
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def report_type(value: str) -> ReportType:
    """The ReportType named ``value``; ConfigurationError lists the known ones."""
    try:
        return ReportType(str(value).upper())
    except ValueError:
        raise ConfigurationError(f"unknown report type {value!r}; known: {[t.value for t in ReportType]}") from None


def period_for(kind: ReportType, day: dt.date) -> Period:
    """The period of report type ``kind`` that contains ``day``."""
    span = _SPAN[kind]
    if span == "day":
        return Period(day, day, day.isoformat())
    if span == "week":
        start = day - dt.timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(start, start + dt.timedelta(days=6), f"{year}-W{week:02d}")
    if span == "month":
        start = day.replace(day=1)
        return Period(start, _month_end(start), f"{day.year}-{day.month:02d}")
    if span == "quarter":
        quarter = (day.month - 1) // 3
        start = dt.date(day.year, quarter * 3 + 1, 1)
        return Period(start, _month_end(dt.date(day.year, quarter * 3 + 3, 1)), f"{day.year}-Q{quarter + 1}")
    return Period(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), f"{day.year}")


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def default_day(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """Yesterday in ``timezone``: the last complete business date, what schedules report on."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date() - dt.timedelta(days=1)
