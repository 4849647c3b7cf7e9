"""Beat schedule: the morning (inbound) and nightly (outbound) windows, in the farm's zone.

The business date is resolved by the discover task when it runs (today in the configured
time zone), so a late or repeated emission still targets the right day.
"""

from __future__ import annotations

from celery.schedules import crontab

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.settings import get_settings


def parse_cron(expression: str, *, setting: str) -> crontab:
    """A crontab from five fields; ConfigurationError names the setting when it is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigurationError(f"{setting}: {expression!r} is not a five-field cron expression")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{setting}: {expression!r} is not a valid cron expression: {exc}") from None


def beat_schedule() -> dict:
    """The ``beat_schedule`` Celery setting."""
    settings = get_settings()
    return {
        "morning-window": {
            "task": "timesheet_batch.discover",
            "schedule": parse_cron(settings.morning_cron, setting="TIMESHEET_MORNING_CRON"),
            "kwargs": {"window": "morning"},
            "options": {"queue": "high"},
        },
        "nightly-window": {
            "task": "timesheet_batch.discover",
            "schedule": parse_cron(settings.nightly_cron, setting="TIMESHEET_NIGHTLY_CRON"),
            "kwargs": {"window": "nightly"},
            "options": {"queue": "high"},
        },
        "sweeper": {
            "task": "timesheet_batch.sweep",
            "schedule": settings.sweep_interval_s,
            "options": {"queue": "high", "expires": settings.sweep_interval_s},
        },
    }
