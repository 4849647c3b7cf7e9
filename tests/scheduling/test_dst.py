"""The beat schedule across both DST transitions of America/Los_Angeles, on a fake clock.

Celery's own beat ``Scheduler.tick()`` runs the real schedule (``schedule.beat_schedule``)
with every crontab's ``nowfun`` on a controllable clock: each tick's returned delay moves
the clock, nothing sleeps, and ``apply_async`` only records what would have been sent.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

import pytest
from celery import Celery
from celery.beat import Scheduler

from timesheet_batch.messaging.beat import beat_schedule
from timesheet_batch.settings import Settings

TZ = zoneinfo.ZoneInfo("America/Los_Angeles")


class FakeClock:
    """``nowfun`` for crontabs: an aware UTC datetime the test moves."""

    def __init__(self, start: dt.datetime):
        self.now = start.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class RecordingScheduler(Scheduler):
    """Celery's beat scheduler; sending a task only records (entry, time)."""

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[str, dt.datetime]] = []
        super().__init__(*args, **kwargs)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        self.sent.append((entry.name, entry.schedule.now()))


def simulate(settings: Settings, start: dt.datetime, days: int, max_interval: float = 300) -> list:
    """Beat from ``start`` (local) for ``days``; every (entry, local fire time) it sent."""
    app = Celery("dst-test", set_as_current=False)
    app.conf.update(timezone=settings.timezone, enable_utc=True, result_expires=None)
    clock = FakeClock(start)
    entries = {name: entry for name, entry in beat_schedule(settings, nowfun=clock, app=app).items()
               if name != "sweeper"}  # an interval entry, not a cron
    scheduler = RecordingScheduler(app, lazy=True, max_interval=max_interval)
    scheduler.merge_inplace(entries)
    end = clock.now + dt.timedelta(days=days)
    while clock.now < end:
        delay = scheduler.tick()
        clock.now += dt.timedelta(seconds=max(delay, 0.001))
    return [(name, at.astimezone(TZ)) for name, at in scheduler.sent]


def per_day(sent, entry: str) -> Counter:
    return Counter(at.date() for name, at in sent if name == entry)


@pytest.mark.parametrize(("start", "transition"), [
    (dt.datetime(2026, 3, 6, 12, tzinfo=TZ), dt.date(2026, 3, 8)),   # spring forward 02:00 -> 03:00
    (dt.datetime(2026, 10, 30, 12, tzinfo=TZ), dt.date(2026, 11, 1)),  # fall back 02:00 -> 01:00
])
def test_windows_fire_once_per_local_day_across_dst(start, transition):
    sent = simulate(Settings(), start, days=5)
    days = [start.date() + dt.timedelta(days=n) for n in range(1, 5)]
    for entry, hour in (("morning-window", 6), ("nightly-window", 22)):
        counts = per_day(sent, entry)
        assert [counts[d] for d in days] == [1, 1, 1, 1], (entry, counts)
        assert {(at.hour, at.minute) for name, at in sent if name == entry} == {(hour, 0)}
    assert transition in days
    daily = per_day(sent, "daily-report-supervisor")
    assert [daily[d] for d in days] == [1, 1, 1, 1]


def test_a_schedule_at_0230_and_0130_on_the_transition_days():
    settings = Settings(morning_cron="30 2 * * *", nightly_cron="30 1 * * *")
    spring = simulate(settings, dt.datetime(2026, 3, 7, 12, tzinfo=TZ), days=2)
    fall = simulate(settings, dt.datetime(2026, 10, 31, 12, tzinfo=TZ), days=2)
    # 02:30 does not exist on 8 March: it fires once, an hour later by the wall clock (03:30 PDT).
    assert [(at.date(), at.strftime("%H:%M%z")) for n, at in spring if n == "morning-window"] == [
        (dt.date(2026, 3, 8), "03:30-0700"), (dt.date(2026, 3, 9), "02:30-0700")]
    # 01:30 happens twice on 1 November: it fires once, on the first (daylight) occurrence.
    assert [(at.date(), at.strftime("%H:%M%z")) for n, at in fall if n == "nightly-window"] == [
        (dt.date(2026, 11, 1), "01:30-0700"), (dt.date(2026, 11, 2), "01:30-0800")]
    assert [(at.date(), at.strftime("%H:%M%z")) for n, at in fall if n == "morning-window"] == [
        (dt.date(2026, 11, 1), "02:30-0800"), (dt.date(2026, 11, 2), "02:30-0800")]


def test_report_schedules_over_a_year_fire_on_their_days_only():
    sent = simulate(Settings(), dt.datetime(2026, 12, 31, 12, tzinfo=TZ), days=365, max_interval=6 * 3600)
    fired = {name: [at for n, at in sent if n == name] for name, _ in sent}
    # 2027-01-01 … 2027-12-31: both DST changes of 2027 inside, one report a day.
    assert len(fired["daily-report-supervisor"]) == 365
    assert len({at.date() for at in fired["daily-report-supervisor"]}) == 365
    assert all(at.weekday() == 0 for at in fired["weekly-report-supervisor"])
    assert len(fired["weekly-report-supervisor"]) == 52
    assert [at.month for at in fired["monthly-report-supervisor"]] == list(range(1, 13))
    assert all(at.day == 1 for at in fired["monthly-report-supervisor"])
    assert [(at.month, at.day) for at in fired["quarterly-report-supervisor"]] == [(1, 1), (4, 1), (7, 1), (10, 1)]
    assert [at.date() for at in fired["yearly-report-supervisor"]] == [dt.date(2027, 1, 1)]
    assert {(at.hour, at.minute) for n, at in sent if n.endswith("-supervisor")} == {(5, 30)}
