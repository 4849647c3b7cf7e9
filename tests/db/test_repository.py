"""Data access on a real PostgreSQL: idempotent jobs, a changed file requeued, one summary."""

from __future__ import annotations

from sqlalchemy import select, text

from tests.db.jobs import DAY, new_jobs
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import get_engine, session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.states import JobStatus, JobType


def test_second_discovery_adds_nonew_jobs(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        assert len(repo.add_jobs(session, batch=batch, jobs=new_jobs(3))) == 3
    with session_scope(pg_url) as session:
        again = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        assert again.id == batch.id
        assert repo.add_jobs(session, batch=again, jobs=new_jobs(3)) == []
        assert again.total_files == 3
        assert len(repo.add_jobs(session, batch=again, jobs=new_jobs(4))) == 1
        assert again.total_files == 4


def test_new_jobs_are_inserted_once_each_with_their_ids_and_bad_files_failed(pg_url):
    bad = repo.NewJob(JobType.PROCESS_FILE, "inbound/2026-11-20/NOPE/x.csv", None, "low", None, None,
                      failed_reason="unknown vendor NOPE")
    jobs = [*new_jobs(2), new_jobs(1)[0], bad]  # one key listed twice
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        queued = repo.add_jobs(session, batch=batch, jobs=jobs)
        assert batch.total_files == 3
    assert [q.input_key for q in queued] == [j.input_key for j in new_jobs(2)]
    with session_scope(pg_url) as session:
        rows = {row.input_file_path: row for row in session.scalars(select(BatchJob))}
    assert len(rows) == 3
    assert {rows[q.input_key].job_id for q in queued} == {q.job_id for q in queued}
    assert all(rows[q.input_key].status == JobStatus.QUEUED and rows[q.input_key].version == 0 for q in queued)
    failed = rows[bad.input_key]
    assert failed.status == JobStatus.FAILED and failed.error_message == "unknown vendor NOPE"
    assert failed.completed_at is not None and failed.dispatched_at is None and failed.batch_id == batch.id


def test_a_changed_file_requeues_its_finished_job(pg_url):
    new = repo.NewJob(JobType.PROCESS_FILE, "inbound/2026-11-20/ACME/x.csv", "ACME", "high", "csv", "VENDOR",
                      fingerprint="10-1")
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=[new])
        claims.finish_job(session, job_id=job.job_id, status=JobStatus.FAILED, error_message="bad")
    with session_scope(pg_url) as session:
        assert repo.add_jobs(session, batch=batch, jobs=[new]) == []  # same content: nothing
        changed = repo.add_jobs(session, batch=batch, jobs=[new.__class__(**{**vars(new), "fingerprint": "11-2"})])
        assert [j.job_id for j in changed] == [job.job_id]
        assert batch.total_files == 1


def test_summary_is_claimed_once_and_only_when_all_jobs_are_terminal(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="nightly", business_date=DAY)
        queued = repo.add_jobs(session, batch=batch, jobs=new_jobs(2))
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is False
        for job in queued:
            claims.finish_job(session, job_id=job.job_id, status=JobStatus.FAILED, error_message="x")
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is True
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is False


def test_seed_sql_and_summary_view_work(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        jobs = repo.add_jobs(session, batch=batch, jobs=new_jobs(3))
        claims.finish_job(session, job_id=jobs[0].job_id, status=JobStatus.COMPLETED, records_written=10)
    with get_engine(pg_url).connect() as connection:
        by_status = dict(connection.execute(text("SELECT status, COUNT(*) FROM batch_job_log GROUP BY status")).all())
        view = connection.execute(text(
            "SELECT total_jobs, completed, failed, processing, pending, total_records, correlation_id "
            "FROM batch_job_summary")).one()
    assert by_status == {"COMPLETED": 1, "QUEUED": 2}
    assert tuple(view) == (3, 1, 0, 0, 2, 10, "morning-2026-11-20")
