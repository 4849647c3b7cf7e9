"""Expected conditions are one clear reason and one log line, never a traceback or an
``internal error``: a file deleted after discovery, a symlink out of the storage root."""

from __future__ import annotations

import logging
import os

import pytest

from tests.jobs.test_runner import _one_job
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.jobs import kinds, runner


def _key(pg_url: str, job_id: str) -> str:
    with session_scope(pg_url) as session:
        return repo.get_job(session, job_id=job_id).input_file_path


def _replace_with_symlink(ctx, key, tmp_path):
    path = ctx.storage.root / key
    target = tmp_path / "outside.csv"
    target.write_bytes(path.read_bytes())
    path.unlink()
    os.symlink(target, path)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda ctx, key, tmp_path: (ctx.storage.root / key).unlink(), "no object at key"),
    (_replace_with_symlink, "resolves outside the storage root"),
])
def test_a_missing_or_escaping_file_fails_with_its_reason_and_no_traceback(tmp_path, pg_url, caplog, change, reason):
    caplog.set_level(logging.INFO)
    ctx, job_id = _one_job(tmp_path, pg_url)
    key = _key(pg_url, job_id)
    change(ctx, key, tmp_path)

    outcome = runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=job_id, worker_id="w1")

    assert outcome.status == "FAILED" and reason in outcome.error and "internal error" not in outcome.error
    with session_scope(pg_url) as session:
        assert reason in repo.get_job(session, job_id=job_id).error_message
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
