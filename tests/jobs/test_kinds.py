"""The job-kind registry: what it accepts, what it refuses, and how it names the problem."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.kinds import JobKind


class _Params(BaseModel):
    key: str
    count: int


def _kind(**fields) -> JobKind:
    values = {"name": "TEST_ONLY", "task_name": "tests.only", "params": _Params,
              "create": lambda ctx, params: None, "run": lambda job_run: None} | fields
    return JobKind(**values)


def test_the_built_in_kinds_are_registered_under_their_task_and_stored_names():
    assert {k.name for k in kinds.all_kinds()} >= {"PROCESS_FILE", "EXPORT_FILE", "REPORT"}
    assert kinds.for_task("timesheet_batch.process_file").name == "PROCESS_FILE"
    assert kinds.for_task("timesheet_batch.generate_report").name == "REPORT"
    assert kinds.for_stored_name("DAILY_SUMMARY").name == "REPORT"  # a report type is a report job
    assert kinds.for_window("nightly").name == "EXPORT_FILE"
    assert kinds.for_task("timesheet_batch.summarize_batch") is None  # bookkeeping, not a kind


def test_unknown_names_are_configuration_errors_that_list_what_is_known():
    with pytest.raises(ConfigurationError, match=r"no job kind 'NOPE' \(known: .*PROCESS_FILE"):
        kinds.get("NOPE")
    with pytest.raises(ConfigurationError, match="no job kind stores jobs as 'NOPE'"):
        kinds.for_stored_name("NOPE")
    with pytest.raises(ConfigurationError, match="unknown window 'noon': use morning or nightly"):
        kinds.for_window("noon")


def test_a_second_kind_may_not_take_a_name_a_stored_name_or_a_task():
    with pytest.raises(ConfigurationError, match="PROCESS_FILE is registered twice"):
        kinds.register(_kind(name="PROCESS_FILE"))
    with pytest.raises(ConfigurationError, match="DAILY_REPORT already belongs to another kind"):
        kinds.register(_kind(stored_as=frozenset({"DAILY_REPORT"})))
    with pytest.raises(ConfigurationError, match="timesheet_batch.export_file already belongs to another kind"):
        kinds.register(_kind(task_name="timesheet_batch.export_file"))
    assert "TEST_ONLY" not in {k.name for k in kinds.all_kinds()}


def test_a_kind_that_could_not_be_served_is_refused_when_it_is_built():
    with pytest.raises(ConfigurationError, match="queue must be one of high, medium, low"):
        _kind(queue="urgent")
    with pytest.raises(ConfigurationError, match="time_limit_s must be"):
        _kind(time_limit_s=3 * 3600)
    with pytest.raises(ConfigurationError, match="on_lost must be"):
        _kind(on_lost="ignore")


def test_parameters_are_checked_and_every_bad_field_named_without_its_value():
    kind = _kind()
    assert kind.validate({"key": "a", "count": "3"}).count == 3
    with pytest.raises(ConfigurationError) as raised:
        kind.validate({"key": "123-45-6789", "count": "many", "extra": 1})
    message = str(raised.value)
    assert message.startswith("bad parameters for job kind TEST_ONLY: ")
    assert "count:" in message and "many" not in message and "123-45-6789" not in message


def test_a_missing_kind_module_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="TIMESHEET_JOB_KINDS: cannot import 'no.such.module'"):
        kinds.load_modules(["no.such.module"])


def test_the_retry_budget_is_the_kinds_or_the_settings():
    assert _kind().max_attempts(3) == 4
    assert _kind(max_retries=0).max_attempts(3) == 1
