"""The sweeper on a real PostgreSQL: what it re-dispatches, and that two sweeps at once
dispatch each job once between them."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from tests.jobs.recording import RecordingPublisher
from timesheet_batch.context import FarmContext
from timesheet_batch.db import claims
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.jobs.sweeper import sweep
from timesheet_batch.settings import PACKAGED_VENDORS_FILE, Settings
from timesheet_batch.states import JobStatus, JobType
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

DAY = dt.date(2026, 11, 20)
LONG_AGO = repo.utc_now() - dt.timedelta(hours=1)


@pytest.fixture
def ctx(pg_url, tmp_path) -> FarmContext:
    settings = Settings(database_url=pg_url, data_dir=tmp_path, lost_after_s=5, retry_backoff_cap_s=1)
    return FarmContext(settings=settings, catalog=load_catalog(PACKAGED_VENDORS_FILE), storage=LocalStorage(tmp_path))


def _jobs(ctx, n: int) -> list[repo.QueuedJob]:
    new = [repo.NewJob(JobType.PROCESS_FILE, f"inbound/2026-11-20/ACME/{i}.csv", "ACME", "high", "csv", "VENDOR")
           for i in range(n)]
    with session_scope(ctx.database_url) as session:
        batch = repo.get_or_create_batch(session, window="morning", business_date=DAY)
        return repo.add_jobs(session, batch=batch, jobs=new)


def _age(ctx, **values) -> None:
    with session_scope(ctx.database_url) as session:
        session.execute(update(BatchJob).values(**values))


def test_lost_messages_are_sent_again_once_even_by_two_sweepers(ctx):
    jobs = _jobs(ctx, 20)
    _age(ctx, dispatched_at=LONG_AGO)
    publisher = RecordingPublisher()
    threads = [threading.Thread(target=sweep, args=(ctx,), kwargs={"publisher": publisher}) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(j.job_id for j in publisher.published) == sorted(j.job_id for j in jobs)


def test_nothing_is_sent_while_the_queue_still_holds_messages(ctx):
    _jobs(ctx, 3)
    _age(ctx, dispatched_at=LONG_AGO)
    publisher = RecordingPublisher({"high": 3})
    report = sweep(ctx, publisher=publisher)
    assert publisher.published == [] and not report


def test_an_expired_lease_is_taken_back_and_a_spent_job_parked(ctx):
    first, second = _jobs(ctx, 2)
    with session_scope(ctx.database_url) as session:
        for job in (first, second):
            claims.claim_job(session, job_id=job.job_id, worker_id="w", lease_s=0, max_attempts=4)
        session.execute(update(BatchJob).where(BatchJob.job_id == second.job_id).values(attempts=4))
    publisher = RecordingPublisher()
    report = sweep(ctx, publisher=publisher)
    assert [j.job_id for j in publisher.published] == [first.job_id] and report.expired == [first.job_id]
    assert [j.job_id for j in publisher.parked] == [second.job_id] and report.dead == [second.job_id]
    with session_scope(ctx.database_url) as session:
        assert repo.get_job(session, job_id=first.job_id).status == JobStatus.RETRYING
        assert repo.get_job(session, job_id=second.job_id).status == JobStatus.DEAD


def test_a_finished_batch_without_summary_is_summarised_and_its_dependents_fired(ctx):
    (job,) = _jobs(ctx, 1)
    with session_scope(ctx.database_url) as session:
        claims.finish_job(session, job_id=job.job_id, status=JobStatus.FAILED, error_message="bad file")
    fired = []
    report = sweep(ctx, publisher=RecordingPublisher(), after_summary=fired.append)
    assert report.summarized == fired and len(fired) == 1
    assert sweep(ctx, publisher=RecordingPublisher(), after_summary=fired.append).summarized == []


def test_a_lost_report_job_is_sent_again(ctx):
    with session_scope(ctx.database_url) as session:
        # A report job recorded before report jobs kept a dispatch time: its last change stands in.
        session.add(BatchJob(job_id="report-1", report_type="DAILY_REPORT", status=JobStatus.QUEUED, version=0,
                             attempts=0, priority="high", updated_at=LONG_AGO))
    publisher = RecordingPublisher()
    sweep(ctx, publisher=publisher)
    assert [(j.job_id, j.job_type) for j in publisher.published] == [("report-1", "DAILY_REPORT")]
    _age(ctx, updated_at=LONG_AGO, dispatched_at=LONG_AGO)  # lost again, but now messages wait in high: leave it
    busy = RecordingPublisher({"high": 1})
    sweep(ctx, publisher=busy)
    assert busy.published == []
