"""Claims, leases and fenced writes of db/claims.py against real PostgreSQL."""

from __future__ import annotations

from tests.db.jobs import CLAIM, DAY, new_jobs
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.states import JobStatus


def test_only_one_of_two_claims_wins(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=new_jobs(1))
    # Two sessions read the same version, then both try to claim.
    with session_scope(pg_url) as first, session_scope(pg_url) as second:
        seen_first = repo.get_job(first, job_id=job.job_id)
        seen_second = repo.get_job(second, job_id=job.job_id)
        assert seen_first.version == seen_second.version == 0
        won = claims.claim_job(first, job_id=job.job_id, worker_id="w1", **CLAIM)
        first.commit()
        lost = claims.claim_job(second, job_id=job.job_id, worker_id="w2", **CLAIM)
    assert won.state == "claimed" and won.job.status == JobStatus.PROCESSING
    assert lost.state == "busy" and lost.job is None
    with session_scope(pg_url) as session:
        row = repo.get_job(session, job_id=job.job_id)
        assert (row.worker_id, row.version) == ("w1", 1)


def test_finished_job_is_not_claimed_again(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=new_jobs(1))
    with session_scope(pg_url) as session:
        claim = claims.claim_job(session, job_id=job.job_id, worker_id="w1", **CLAIM)
    with session_scope(pg_url) as session:
        assert claims.finish_job(session, job_id=job.job_id, status=JobStatus.COMPLETED, version=claim.job.version,
                               records_written=5)
    with session_scope(pg_url) as session:
        assert claims.claim_job(session, job_id=job.job_id, worker_id="w2", **CLAIM).state == "finished"


def _one_job(pg_url):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        (job,) = repo.add_jobs(session, batch=batch, jobs=new_jobs(1))
    return job


def test_expired_lease_lets_another_worker_take_over_and_fences_the_first(pg_url):
    job = _one_job(pg_url)
    with session_scope(pg_url) as session:
        first = claims.claim_job(session, job_id=job.job_id, worker_id="w1", lease_s=0.0, max_attempts=4)
    with session_scope(pg_url) as session:
        second = claims.claim_job(session, job_id=job.job_id, worker_id="w2", **CLAIM)
    assert second.state == "claimed" and second.job.attempts == 2
    with session_scope(pg_url) as session:  # the first worker comes back: all its writes are refused
        assert claims.record_progress(session, job_id=job.job_id, version=first.job.version, chunks_done=1,
                                    records_read=1, records_rejected=0) is None
        assert not claims.finish_job(session, job_id=job.job_id, status=JobStatus.COMPLETED,
                                   version=first.job.version)
        assert claims.renew_lease(session, job_id=job.job_id, version=first.job.version, lease_s=30) is None
    with session_scope(pg_url) as session:
        assert claims.finish_job(session, job_id=job.job_id, status=JobStatus.COMPLETED, version=second.job.version)
        assert repo.get_job(session, job_id=job.job_id).worker_id == "w2"


def test_a_job_out_of_attempts_is_parked_dead_at_its_next_claim(pg_url):
    job = _one_job(pg_url)
    for _ in range(2):  # two claims whose workers "died" (lease 0)
        with session_scope(pg_url) as session:
            assert claims.claim_job(session, job_id=job.job_id, worker_id="w", lease_s=0.0, max_attempts=2).job
    with session_scope(pg_url) as session:
        claim = claims.claim_job(session, job_id=job.job_id, worker_id="w", lease_s=0.0, max_attempts=2)
    assert claim.state == "exhausted"
    with session_scope(pg_url) as session:
        row = repo.get_job(session, job_id=job.job_id)
        assert row.status == JobStatus.DEAD and "2 attempt" in row.error_message
