"""Beat schedule: the two windows and the five report schedules, in the farm's time zone (and the
retention purge, only when ``TIMESHEET_PURGE_CRON`` is set).

Every schedule is a five-field cron string from the settings (``TIMESHEET_MORNING_CRON``,
``TIMESHEET_DAILY_REPORT_CRON`` …); a bad one raises ConfigurationError naming its variable,
which ``celery_app`` turns into exit 2 when beat (or a worker) starts.

Times are local to ``TIMESHEET_TIMEZONE`` (Celery's ``timezone``) and Celery's crontab does the
daylight-saving arithmetic (see SCHEDULES.md and tests/scheduling): each entry fires once per
matching local day; a time that does not exist on the spring-forward day (02:30) fires an
hour later (03:30 PDT), a time that exists twice on the fall-back day (01:30) fires on its
first occurrence only.

The business date is resolved by the task when it runs (today, or yesterday's period for a
report, in the configured zone), so a late or repeated emission still targets the right day;
a second emission of the same entry is absorbed by the idempotent discovery and report jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.reports.jobs import report_roles
from timesheet_batch.settings import ENV_PREFIX, Settings, get_settings


@dataclass(frozen=True)
class CronSetting:
    """One cron-driven schedule entry: its beat name, settings field and what it sends."""

    entry: str
    field: str
    task: str
    kwargs: dict
    queue: str = "high"

    @property
    def variable(self) -> str:
        """The environment variable that overrides this schedule."""
        return f"{ENV_PREFIX}{self.field.upper()}"


WINDOW_SCHEDULES: tuple[CronSetting, ...] = (
    CronSetting("morning-window", "morning_cron", "timesheet_batch.discover", {"window": "morning"}),
    CronSetting("nightly-window", "nightly_cron", "timesheet_batch.discover", {"window": "nightly"}),
)
#: Report type -> settings field of its cron (defaults follow the seed: 05:30 local).
REPORT_SCHEDULES: dict[str, str] = {
    "DAILY_REPORT": "daily_report_cron",
    "WEEKLY_REPORT": "weekly_report_cron",
    "MONTHLY_REPORT": "monthly_report_cron",
    "QUARTERLY_REPORT": "quarterly_report_cron",
    "YEARLY_REPORT": "yearly_report_cron",
}

#: Retention (``jobs/retention.py``): in ``low``, behind every file; only with TIMESHEET_PURGE_CRON.
PURGE_SCHEDULE = CronSetting("purge", "purge_cron", "timesheet_batch.purge", {}, queue="low")


def parse_cron(
    expression: str, *, setting: str, nowfun: Callable[[], Any] | None = None, app: Any = None
) -> crontab:
    """A crontab from five fields; ConfigurationError names the setting when it is wrong.

    ``nowfun`` and ``app`` exist for tests that drive the schedule with a controllable clock.
    """
    fields = str(expression).split()
    if len(fields) != 5:
        raise ConfigurationError(f"{setting}: {expression!r} is not a five-field cron expression")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            nowfun=nowfun,
            app=app,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{setting}: {expression!r} is not a valid cron expression: {exc}") from None
    if not (schedule.minute and schedule.hour and schedule.day_of_month and schedule.month_of_year
            and schedule.day_of_week):
        raise ConfigurationError(f"{setting}: {expression!r} never matches any time")
    return schedule


def cron_settings(settings: Settings) -> list[CronSetting]:
    """Every cron entry of the schedule: the windows, then one report entry per type and role."""
    entries = list(WINDOW_SCHEDULES)
    for report_type, field in REPORT_SCHEDULES.items():
        for role in report_roles(settings):
            entry = f"{report_type.lower().replace('_', '-')}-{role.lower()}"
            kwargs = {"report_type": report_type, "role": role, "trigger": "schedule"}
            entries.append(CronSetting(entry, field, "timesheet_batch.generate_report", kwargs))
    if (settings.purge_cron or "").strip():  # retention: off unless TIMESHEET_PURGE_CRON is set
        entries.append(PURGE_SCHEDULE)
    return entries


def validate_schedules(settings: Settings | None = None) -> None:
    """Parse every cron setting now; ConfigurationError names the first bad variable."""
    settings = settings or get_settings()
    for item in cron_settings(settings):
        parse_cron(getattr(settings, item.field), setting=item.variable)


def beat_schedule(settings: Settings | None = None, *, nowfun: Callable[[], Any] | None = None,
                  app: Any = None) -> dict:
    """The ``beat_schedule`` Celery setting."""
    settings = settings or get_settings()
    schedule: dict[str, dict] = {}
    for item in cron_settings(settings):
        schedule[item.entry] = {
            "task": item.task,
            "schedule": parse_cron(getattr(settings, item.field), setting=item.variable, nowfun=nowfun, app=app),
            "kwargs": dict(item.kwargs),
            "options": {"queue": item.queue},
        }
    schedule["sweeper"] = {
        "task": "timesheet_batch.sweep",
        "schedule": settings.sweep_interval_s,
        "options": {"queue": "high", "expires": settings.sweep_interval_s},
    }
    return schedule
