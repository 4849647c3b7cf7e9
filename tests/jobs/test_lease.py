"""The lease keeper against real PostgreSQL: renewals in the background, a lost job noticed."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.db.jobs import DAY, new_jobs
from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.jobs.lease import LeaseKeeper


def _claimed_jobs(pg_url, n: int, lease_s: float):
    with session_scope(pg_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        queued = repo.add_jobs(session, batch=batch, jobs=new_jobs(n, prefix="lease"))
    held = []
    for job in queued:
        with session_scope(pg_url) as session:
            held.append(claims.claim_job(session, job_id=job.job_id, worker_id="w1", lease_s=lease_s,
                                         max_attempts=4).job)
    return held


def _lease_expiry(pg_url, job_id: str):
    with session_scope(pg_url) as session:
        return repo.get_job(session, job_id=job_id).lease_expires_at


def test_a_short_lease_after_a_long_one_is_still_renewed_on_time(pg_url):
    # The renewer thread is only woken when a new lease falls due before its set wake-up.
    long_job, short_job = _claimed_jobs(pg_url, 2, lease_s=0.6)
    with LeaseKeeper(pg_url, job_id=long_job.job_id, version=long_job.version, lease_s=3600):
        first = _lease_expiry(pg_url, short_job.job_id)
        with LeaseKeeper(pg_url, job_id=short_job.job_id, version=short_job.version, lease_s=0.6):
            assert wait_until(lambda: _lease_expiry(pg_url, short_job.job_id) > first, timeout_s=3)


def test_a_removed_lease_is_no_longer_renewed(pg_url):
    (job,) = _claimed_jobs(pg_url, 1, lease_s=0.3)
    first = _lease_expiry(pg_url, job.job_id)
    with LeaseKeeper(pg_url, job_id=job.job_id, version=job.version, lease_s=0.3):
        assert wait_until(lambda: _lease_expiry(pg_url, job.job_id) > first, timeout_s=3)
    time.sleep(0.15)  # a renewal under way when the block ended may still land
    last = _lease_expiry(pg_url, job.job_id)
    time.sleep(0.5)  # five renewal periods
    assert _lease_expiry(pg_url, job.job_id) == last


def test_a_cancelled_job_is_noticed_by_its_lease(pg_url):
    (job,) = _claimed_jobs(pg_url, 1, lease_s=0.3)
    with LeaseKeeper(pg_url, job_id=job.job_id, version=job.version, lease_s=0.3) as lease:
        with session_scope(pg_url) as other:
            other.execute(text("UPDATE batch_job_log SET status = 'CANCELLED' WHERE job_id = :j"), {"j": job.job_id})
        assert wait_until(lambda: lease.lost_status is not None, timeout_s=3)
    assert lease.lost_status == "CANCELLED"
