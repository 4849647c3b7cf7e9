"""Every schedule is overridable by its variable and a bad one stops beat with exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, base_env
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.messaging.beat import beat_schedule, validate_schedules
from timesheet_batch.settings import Settings

VARIABLES = ["TIMESHEET_MORNING_CRON", "TIMESHEET_NIGHTLY_CRON", "TIMESHEET_DAILY_REPORT_CRON",
             "TIMESHEET_WEEKLY_REPORT_CRON", "TIMESHEET_MONTHLY_REPORT_CRON",
             "TIMESHEET_QUARTERLY_REPORT_CRON", "TIMESHEET_YEARLY_REPORT_CRON"]


def test_defaults_and_overrides(monkeypatch):
    schedule = beat_schedule(Settings())
    assert schedule["daily-report-supervisor"]["schedule"].hour == {5}
    assert schedule["weekly-report-supervisor"]["schedule"].day_of_week == {1}
    assert schedule["quarterly-report-supervisor"]["schedule"].month_of_year == {1, 4, 7, 10}
    assert schedule["daily-report-supervisor"]["kwargs"] == {
        "report_type": "DAILY_REPORT", "role": "SUPERVISOR", "trigger": "schedule"}
    monkeypatch.setenv("TIMESHEET_YEARLY_REPORT_CRON", "15 4 2 1 *")
    monkeypatch.setenv("TIMESHEET_REPORT_ROLES", "SUPERVISOR, CASE_WORKER")
    schedule = beat_schedule(Settings())
    assert schedule["yearly-report-case_worker"]["schedule"].day_of_month == {2}
    assert schedule["yearly-report-supervisor"]["schedule"].hour == {4}


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize("value", ["61 * * * *", "0 6 * *", "0 6 31 2 *"])
def test_a_bad_cron_names_its_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        validate_schedules(Settings())


def test_beat_refuses_to_start_with_a_bad_schedule(tmp_path):
    env = base_env() | {"TIMESHEET_DATA_DIR": str(tmp_path), "TIMESHEET_WEEKLY_REPORT_CRON": "0 25 * * 1"}
    proc = subprocess.run([sys.executable, "-m", "celery", "-A", "timesheet_batch", "beat", "--help"],
                          env=env, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "TIMESHEET_WEEKLY_REPORT_CRON" in proc.stderr and "Traceback" not in proc.stderr
