"""Data access on a real PostgreSQL: idempotent jobs, versioned claims, one summary."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import get_engine, session_scope
from timesheet_batch.states import JobStatus, JobType

DAY = dt.date(2026, 11, 20)


def _jobs(n: int, prefix: str = "a") -> list[repo.NewJob]:
    return [
        repo.NewJob(JobType.PROCESS_FILE, f"inbound/2026-11-20/ACME/{prefix}{i}.csv", "ACME", "high", "csv", "VENDOR")
        for i in range(n)
    ]


def test_second_discovery_adds_no_jobs(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        assert len(repo.add_jobs(session, batch=batch, jobs=_jobs(3))) == 3
    with session_scope(pg_url) as session:
        again = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        assert again.id == batch.id
        assert repo.add_jobs(session, batch=again, jobs=_jobs(3)) == []
        assert again.total_files == 3
        assert len(repo.add_jobs(session, batch=again, jobs=_jobs(4))) == 1
        assert again.total_files == 4


def test_only_one_of_two_claims_wins(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=_jobs(1))
    # Two sessions read the same version, then both try to claim.
    with session_scope(pg_url) as first, session_scope(pg_url) as second:
        seen_first = repo.get_job(first, job_id=job.job_id)
        seen_second = repo.get_job(second, job_id=job.job_id)
        assert seen_first.version == seen_second.version == 0
        won = repo.claim_job(first, job_id=job.job_id, worker_id="w1")
        first.commit()
        lost = repo.claim_job(second, job_id=job.job_id, worker_id="w2")
    assert won is not None and won.status == JobStatus.PROCESSING
    assert lost is None
    with session_scope(pg_url) as session:
        row = repo.get_job(session, job_id=job.job_id)
        assert (row.worker_id, row.version) == ("w1", 1)


def test_finished_job_is_not_claimed_again(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=_jobs(1))
    with session_scope(pg_url) as session:
        repo.claim_job(session, job_id=job.job_id, worker_id="w1")
    with session_scope(pg_url) as session:
        repo.finish_job(session, job_id=job.job_id, status=JobStatus.COMPLETED, records_written=5)
    with session_scope(pg_url) as session:
        assert repo.claim_job(session, job_id=job.job_id, worker_id="w2") is None


def test_summary_is_claimed_once_and_only_when_all_jobs_are_terminal(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="nightly", business_date=DAY)
        queued = repo.add_jobs(session, batch=batch, jobs=_jobs(2))
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is False
        for job in queued:
            repo.finish_job(session, job_id=job.job_id, status=JobStatus.FAILED, error_message="x")
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is True
    with session_scope(pg_url) as session:
        assert repo.claim_summary(session, batch_id=batch.id) is False


def test_seed_sql_and_summary_view_work(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        jobs = repo.add_jobs(session, batch=batch, jobs=_jobs(3))
        repo.finish_job(session, job_id=jobs[0].job_id, status=JobStatus.COMPLETED, records_written=10)
    with get_engine(pg_url).connect() as connection:
        by_status = dict(connection.execute(text("SELECT status, COUNT(*) FROM batch_job_log GROUP BY status")).all())
        view = connection.execute(text(
            "SELECT total_jobs, completed, failed, processing, pending, total_records, correlation_id "
            "FROM batch_job_summary")).one()
    assert by_status == {"COMPLETED": 1, "QUEUED": 2}
    assert tuple(view) == (3, 1, 0, 0, 2, 10, "morning-2026-11-20")
