"""Values from outside in log lines and error lines (issue #12): a storage key with a line break
or a terminal escape reaches the log as one escaped line, never as lines of its own."""

from __future__ import annotations

import datetime as dt
import logging

from tests.reports.helpers import make_context, write_sample
from timesheet_batch.jobs import kinds, runner
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.logsafe import quoted, safe, safe_lines
from timesheet_batch.states import JobStatus

DAY = dt.date(2026, 11, 23)
FORGED = "\n2026-11-23 06:00:00 INFO root: all files COMPLETED\x1b[2K\r"


def test_safe_escapes_control_characters_like_repr_and_keeps_printable_text():
    assert safe("inbound/2026-11-23/ACME/a.csv") == "inbound/2026-11-23/ACME/a.csv"
    assert safe("Zoë Ñúñez 株式会社") == "Zoë Ñúñez 株式会社"
    assert safe("a\nb\rc\td\x1b[31me\x00f\x7f") == "a\\nb\\rc\\td\\x1b[31me\\x00f\\x7f"
    assert safe("line\u2028sep\u202eevil") == "line\\u2028sep\\u202eevil"  # line separator, bidi override
    assert safe("back\\slash") == "back\\\\slash"  # so an escape in the output is always ours
    assert safe(ValueError("bad\nvalue")) == "bad\\nvalue"
    assert quoted("a\nb") == "'a\\nb'"


def test_safe_bounds_the_length_and_says_how_long_the_value_was():
    assert safe("x" * 5000) == "x" * 1024 + "...[5000 characters]"
    assert safe("\n" * 10, limit=3) == "\\n\\n\\n...[10 characters]"
    assert safe_lines("first\x1b[31m\nsecond\r") == "first\\x1b[31m\nsecond\\r"
    assert safe_lines("already\\nsafe\n") == "already\\nsafe\n"  # escapes made where values went in stay single


def test_a_key_with_a_line_break_and_an_ansi_escape_is_logged_as_one_escaped_line(tmp_path, pg_url, caplog):
    ctx = make_context(tmp_path, pg_url)
    (sample,) = write_sample(ctx, DAY, files=1, records=20, bad_ratio=0.0, formats=("csv",))
    folder = sample.key.rsplit("/", 1)[0]
    evil = f"{folder}/a{FORGED}.csv"  # a key safe_key accepts: no backslash, NUL or dot segment
    ctx.storage.write_bytes(evil, ctx.storage.read_bytes(sample.key))
    ctx.storage.delete(sample.key)
    (queued,) = discover_window(ctx, window="morning", business_date=DAY).queued

    with caplog.at_level(logging.INFO, logger="timesheet_batch"):
        outcome = runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=queued.job_id, worker_id="w1")

    assert outcome.status == JobStatus.COMPLETED  # the key itself is fine: only its rendering changes
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("timesheet_batch")]
    claimed = [m for m in messages if " claimed " in m]
    assert claimed and safe(evil) in claimed[0], messages
    assert "\\n2026-11-23 06:00:00 INFO root: all files COMPLETED\\x1b[2K\\r.csv" in claimed[0]
    for message in messages:
        assert "\n" not in message and "\r" not in message and "\x1b" not in message, message
    # A message naming a job that does not exist (``celery call`` with a job_id) is escaped too.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="timesheet_batch"):
        runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=f"nope{FORGED}", worker_id="w1")
    assert [r.getMessage() for r in caplog.records if "nope" in r.getMessage()] == [
        f"job {safe('nope' + FORGED)} not run: missing (status None)"]


def test_cli_error_lines_escape_what_the_user_typed(embedded_farm, tmp_path):
    path = tmp_path / f"vendors{FORGED}.yaml"  # no such file
    proc = embedded_farm.cli("vendors", "check", str(path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "\x1b" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
    assert proc.stderr == f"timesheet-batch: cannot read vendor file {safe(path)}: No such file or directory\n"
