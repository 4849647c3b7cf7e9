"""The job runner in one process against real PostgreSQL: claim, final check, finish."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from tests.reports.helpers import make_context, write_sample
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import autocommit_connection, session_scope
from timesheet_batch.jobs import kinds, runner
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.states import JobStatus

DAY = dt.date(2026, 11, 23)


def _one_job(tmp_path, pg_url, records: int = 50, **settings):
    ctx = make_context(tmp_path, pg_url, **settings)
    write_sample(ctx, DAY, files=1, records=records, bad_ratio=0.0, formats=("csv",))
    (queued,) = discover_window(ctx, window="morning", business_date=DAY).queued
    return ctx, queued.job_id


def test_a_completed_job_keeps_its_chunk_count_without_a_progress_write(tmp_path, pg_url, monkeypatch) -> None:
    ctx, job_id = _one_job(tmp_path, pg_url, records=250, chunk_size=100)  # three chunks
    monkeypatch.setattr(runner, "PROGRESS_EVERY_S", 3600.0)  # no throttled write falls due
    writes = []
    real = claims.record_progress
    monkeypatch.setattr(claims, "record_progress", lambda *a, **k: writes.append(k) or real(*a, **k))

    outcome = runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=job_id, worker_id="w1")

    assert outcome.status == JobStatus.COMPLETED
    assert writes == []  # the final call before publishing only reads the status
    with session_scope(pg_url) as session:
        job = repo.get_job(session, job_id=job_id)
    assert (job.status, job.chunks_done, job.records_read, job.records_processed) == ("COMPLETED", 3, 250, 250)
    assert ctx.storage.exists(job.output_file_path)


def test_a_cancel_just_before_publishing_publishes_nothing(tmp_path, pg_url, monkeypatch) -> None:
    ctx, job_id = _one_job(tmp_path, pg_url)
    real = claims.claimed_status

    def cancel_then_read(session, *, job_id, version):
        # Another client cancels between the last chunk and the final check.
        with session_scope(pg_url) as other:
            other.execute(text("UPDATE batch_job_log SET status = 'CANCELLED' WHERE job_id = :j"), {"j": job_id})
        return real(session, job_id=job_id, version=version)

    monkeypatch.setattr(claims, "claimed_status", cancel_then_read)
    outcome = runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=job_id, worker_id="w1")

    assert outcome.status == JobStatus.CANCELLED
    assert list(ctx.storage.list("processed/")) == []


def test_only_non_durable_sessions_skip_the_wal_flush(pg_url) -> None:
    with session_scope(pg_url) as session:
        assert session.scalar(text("SHOW synchronous_commit")) == "on"
    with session_scope(pg_url, durable=False) as session:
        assert session.scalar(text("SHOW synchronous_commit")) == "off"
    with session_scope(pg_url) as session:  # SET LOCAL ended with its transaction
        assert session.scalar(text("SHOW synchronous_commit")) == "on"


def test_a_file_over_its_reject_limit_fails_with_its_counts(tmp_path, pg_url) -> None:
    ctx = make_context(tmp_path, pg_url)
    (sample,) = write_sample(ctx, DAY, files=1, records=80, bad_ratio=0.1, formats=("csv",))
    (queued,) = discover_window(ctx, window="morning", business_date=DAY).queued

    outcome = runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=queued.job_id, worker_id="w1")

    assert outcome.status == JobStatus.FAILED and "over the limit" in outcome.error
    with session_scope(pg_url) as session:
        job = repo.get_job(session, job_id=queued.job_id)
    # Counted although nothing was published: the reports' reject rates read these columns.
    assert (job.records_read, job.records_rejected, job.chunks_done) == (80, sample.expected_rejects, 1)
    assert list(ctx.storage.list("processed/")) == []


def test_an_autocommit_connection_skips_the_wal_flush(tmp_path, pg_url) -> None:
    ctx, job_id = _one_job(tmp_path, pg_url)
    with autocommit_connection(pg_url) as connection:
        assert connection.scalar(text("SHOW synchronous_commit")) == "off"
        row = claims.claim_fresh(connection, job_id=job_id, worker_id="w1", lease_s=30, max_attempts=4)
        # Committed by itself, before the connection is handed back: another client sees it.
        with session_scope(pg_url) as other:
            assert repo.get_job(other, job_id=job_id).status == JobStatus.PROCESSING
        assert claims.claim_fresh(connection, job_id=job_id, worker_id="w2", lease_s=30, max_attempts=4) is None
    assert row.version == 1 and row.worker_id == "w1"
    with session_scope(pg_url) as session:  # the ordinary pool is untouched
        assert session.scalar(text("SHOW synchronous_commit")) == "on"
