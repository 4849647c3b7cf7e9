"""The outage rider: a watching step rides through transient errors for up to the tolerance,
says once that it waits and once that the service is back, and gives up with a
ServiceUnavailableError (exit 3) only when the outage outlasts the tolerance."""

from __future__ import annotations

import pytest

from timesheet_batch.errors import ConfigurationError, DatabaseUnavailableError, ServiceUnavailableError
from timesheet_batch.jobs.outage import OutageRider


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _rider(tolerance_s: float):
    clock, said = FakeClock(), []
    return OutageRider(tolerance_s, say=said.append, clock=clock, sleep=clock.sleep), clock, said


def _failing_for(clock: FakeClock, seconds: float, result="ok"):
    def step():
        if clock.now < seconds:
            raise DatabaseUnavailableError("database error: server closed the connection unexpectedly")
        return result
    return step


def test_an_outage_shorter_than_the_tolerance_is_ridden_through_with_two_lines():
    rider, clock, said = _rider(60)
    assert rider.call(_failing_for(clock, 25), what="watching the batch (database)") == "ok"
    assert 25 <= clock.now <= 35  # backoff capped at 10 s
    assert len(said) == 2 and rider.outages == 1
    assert "watching the batch (database)" in said[0] and "server closed the connection" in said[0]
    assert "back after" in said[1]


def test_an_outage_longer_than_the_tolerance_ends_in_service_unavailable():
    rider, clock, said = _rider(30)
    with pytest.raises(ServiceUnavailableError, match="TIMESHEET_OUTAGE_TOLERANCE_S=30"):
        rider.call(_failing_for(clock, 1000), what="sweeping (broker and database)")
    assert 30 <= clock.now <= 31  # it gives up at the tolerance, not a backoff later
    assert len(said) == 1


def test_one_outage_spans_several_steps():
    rider, clock, said = _rider(60)
    rider.call(_failing_for(clock, 8), what="a")
    assert rider.call(lambda: 1, what="b") == 1
    assert rider.outages == 1 and len(said) == 2


def test_a_permanent_error_is_not_retried():
    rider, clock, said = _rider(60)
    calls = []

    def step():
        calls.append(1)
        raise ConfigurationError("bad")

    with pytest.raises(ConfigurationError):
        rider.call(step, what="x")
    assert calls == [1] and said == [] and clock.now == 0


def test_zero_tolerance_gives_up_at_the_first_error():
    rider, clock, said = _rider(0)
    with pytest.raises(ServiceUnavailableError):
        rider.call(_failing_for(clock, 5), what="x")
