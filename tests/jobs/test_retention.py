"""Retention (``jobs/retention.py``, ``timesheet-batch purge``, beat's ``purge``) on a real PostgreSQL
with local storage: what goes, what stays, and that a batch still running is never touched."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pytest
from sqlalchemy import func, select, update

from tests.conftest import REPO_ROOT, base_env
from tests.jobs.recording import RecordingPublisher
from timesheet_batch.cli.main import main
from timesheet_batch.cli.purge_command import parse_age
from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob, JobError
from timesheet_batch.db.report_models import JobDependency, ReportRun
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import retention
from timesheet_batch.messaging.beat import beat_schedule, validate_schedules
from timesheet_batch.pipeline.checkpoint import ChunkCheckpoint
from timesheet_batch.reports import jobs as report_jobs
from timesheet_batch.reports.periods import ReportType, period_for
from timesheet_batch.settings import PACKAGED_VENDORS_FILE, Settings, load_settings
from timesheet_batch.states import JobStatus, JobType
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

NOW = repo.utc_now()
OLD = NOW - dt.timedelta(days=200)
RECENT = NOW - dt.timedelta(days=10)
OLD_DAY, RECENT_DAY = OLD.date(), RECENT.date()
NINETY_DAYS = dt.timedelta(days=90)
ZERO = {"batches": 0, "jobs": 0, "adhoc_jobs": 0, "job_errors": 0, "report_runs": 0, "job_dependencies": 0,
        "staging_files": 0, "parked_messages": 0, "kept_batches": 0}


@pytest.fixture
def ctx(pg_url, tmp_path) -> FarmContext:
    settings = Settings(database_url=pg_url, data_dir=tmp_path)
    (tmp_path / "storage").mkdir()
    return FarmContext(settings=settings, catalog=load_catalog(PACKAGED_VENDORS_FILE),
                       storage=LocalStorage(tmp_path / "storage"))


def _batch(ctx, window: str, day: dt.date, files: int, *, at: dt.datetime,
           statuses: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """A batch of ``files`` inbound jobs, COMPLETED (or ``statuses``) and last touched ``at``."""
    new = [repo.NewJob(JobType.PROCESS_FILE, f"inbound/{day}/ACME/{i}.csv", "ACME", "high", "csv", "VENDOR",
                       fingerprint=f"fp-{i}") for i in range(files)]
    with session_scope(ctx.database_url) as session:
        batch = repo.get_or_create_batch(session, window=window, business_date=day)
        job_ids = [job.job_id for job in repo.add_jobs(session, batch=batch, jobs=new)]
        batch_id = batch.id
    with session_scope(ctx.database_url) as session:
        for index, job_id in enumerate(job_ids):
            status = statuses[index] if index < len(statuses) else JobStatus.COMPLETED
            session.execute(update(BatchJob).where(BatchJob.job_id == job_id).values(
                status=status, completed_at=at, updated_at=at, created_at=at, submitted_at=at))
        session.execute(update(Batch).where(Batch.id == batch_id).values(
            status="COMPLETED", created_at=at, started_at=at, finished_at=at, summarized_at=at))
    return batch_id, job_ids


def _stage(ctx, job_id: str, fingerprint: str) -> ChunkCheckpoint:
    """Commit one chunk of the job's inbound run the way the pipeline does: two staged objects."""
    checkpoint = ChunkCheckpoint(ctx.storage, job_id=job_id, content=fingerprint, may_resume=False)
    table = pa.table({"n": [1]})
    checkpoint.offer(0, table, table, 1)
    checkpoint.offer(1, table, table, 1)  # commits chunk 0
    return checkpoint


def _report_fired_by(ctx, batch_id: str, day: dt.date, *, at: dt.datetime) -> str:
    """The DAILY_REPORT a morning batch fired: its job, its report run, the dependency row."""
    period = period_for(ReportType.DAILY_REPORT, day)
    with session_scope(ctx.database_url) as session:
        ref = report_jobs.ensure_report_job(session, report_type="DAILY_REPORT", role="SUPERVISOR", period=period,
                                            trigger="dependency", data_format="csv", parent_job_id=batch_id)
        session.add(JobDependency(
            rule_name="morning-daily-report", trigger_key=batch_id, parent_job_id=batch_id,
            parent_type="MORNING_WINDOW", parent_job_ids=batch_id, dependent_type="DAILY_REPORT", role="SUPERVISOR",
            period_key=period.key, condition="ON_COMPLETION", status="FIRED", dependent_job_id=ref.job_id,
            created_at=at))
    with session_scope(ctx.database_url) as session:
        session.execute(update(BatchJob).where(BatchJob.job_id == ref.job_id).values(
            status=JobStatus.COMPLETED, completed_at=at, updated_at=at))
    return ref.job_id


def _counts(ctx) -> dict[str, int]:
    with session_scope(ctx.database_url) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Batch, BatchJob, JobError, ReportRun, JobDependency)}


def _removed(report: retention.PurgeReport) -> dict[str, int]:
    return {name: value for name, value in report.as_dict().items() if name in ZERO}


def _keys(ctx) -> set[str]:
    return {info.key for info in ctx.storage.list("")}


@pytest.fixture
def world(ctx):
    """An old finished morning batch (one job DEAD with its errors and staged parts, a report it
    fired, its files), a recent finished batch (one staged part left) and a stray staging folder."""
    old_id, old_jobs = _batch(ctx, "morning", OLD_DAY, 3, at=OLD,
                              statuses=(JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DEAD))
    dead = old_jobs[2]
    with session_scope(ctx.database_url) as session:
        for attempt in (1, 2):
            repo.add_error(session, job_id=dead, attempt=attempt, error_message="storage down")
    old_stage = _stage(ctx, dead, "fp-2")
    report_job = _report_fired_by(ctx, old_id, OLD_DAY, at=OLD)
    recent_id, recent_jobs = _batch(ctx, "morning", RECENT_DAY, 2, at=RECENT)
    recent_stage = _stage(ctx, recent_jobs[0], "fp-0")
    stray = _stage(ctx, "no-such-job", "x")
    outputs = {f"inbound/{OLD_DAY}/ACME/0.csv", f"processed/{OLD_DAY}/ACME/0.csv.parquet",
               f"rejects/{OLD_DAY}/ACME/1.csv.rejects.csv", f"outbound/ACME/{OLD_DAY}/0.csv",
               f"reports/{OLD_DAY}/batch-summary-morning.json", f"reports/{OLD_DAY}/daily-report-supervisor.csv"}
    for key in outputs:
        ctx.storage.write_bytes(key, b"kept")
    return {"old": old_id, "old_jobs": old_jobs, "dead": dead, "report_job": report_job, "recent": recent_id,
            "recent_jobs": recent_jobs, "old_stage": old_stage, "recent_stage": recent_stage, "stray": stray,
            "outputs": outputs}


def test_an_old_finished_batch_goes_with_its_rows_and_work_files(ctx, world):
    assert _counts(ctx) == {"batches": 2, "batch_job_log": 6, "job_errors": 2, "report_runs": 1,
                            "job_dependencies": 1}
    assert ChunkCheckpoint(ctx.storage, job_id=world["dead"], content="fp-2", may_resume=True).committed() == 1
    publisher = RecordingPublisher()

    report = retention.purge(ctx, older_than=NINETY_DAYS, publisher=publisher)

    assert _removed(report) == {"batches": 1, "jobs": 4, "adhoc_jobs": 1, "job_errors": 2, "report_runs": 1,
                                "job_dependencies": 1, "staging_files": 2, "parked_messages": 1,
                                "kept_batches": 0}
    assert report.complete and not report.dry_run
    assert publisher.unparked == {world["dead"]}
    assert _counts(ctx) == {"batches": 1, "batch_job_log": 2, "job_errors": 0, "report_runs": 0,
                            "job_dependencies": 0}
    with session_scope(ctx.database_url) as session:
        assert repo.get_batch(session, batch_id=world["old"]) is None
        assert repo.get_batch(session, batch_id=world["recent"]) is not None
        assert sorted(session.scalars(select(BatchJob.job_id))) == sorted(world["recent_jobs"])
    keys = _keys(ctx)
    assert not any(key.startswith(world["old_stage"].prefix) for key in keys)
    # Kept: the recent batch's staged part, a folder no purged job owns, and every output.
    assert sum(key.startswith(world["recent_stage"].prefix) for key in keys) == 2
    assert sum(key.startswith(world["stray"].prefix) for key in keys) == 2
    assert world["outputs"] <= keys


def test_a_dry_run_removes_nothing_and_counts_what_a_run_removes(ctx, world):
    before, files = _counts(ctx), _keys(ctx)
    dry = retention.purge(ctx, older_than=NINETY_DAYS, dry_run=True)
    assert dry.dry_run and _counts(ctx) == before and _keys(ctx) == files
    real = retention.purge(ctx, older_than=NINETY_DAYS, publisher=RecordingPublisher())
    assert _removed(dry) == _removed(real)
    assert _removed(real)["batches"] == 1 and _removed(real)["jobs"] == 4


def test_a_second_run_removes_nothing_more(ctx, world):
    first = retention.purge(ctx, older_than=NINETY_DAYS)
    assert first.batches == 1 and first.jobs == 4
    after, files = _counts(ctx), _keys(ctx)
    second = retention.purge(ctx, older_than=NINETY_DAYS)
    assert _removed(second) == ZERO
    assert _counts(ctx) == after and _keys(ctx) == files


def test_a_shorter_age_reaches_the_recent_batch_too(ctx, world):
    report = retention.purge(ctx, older_than=dt.timedelta(days=5))
    assert (report.batches, report.jobs, report.staging_files) == (2, 6, 4)
    assert _counts(ctx)["batches"] == 0


def test_an_old_batch_with_one_job_processing_is_kept_whole(ctx):
    batch_id, job_ids = _batch(ctx, "nightly", OLD_DAY, 3, at=OLD, statuses=(JobStatus.COMPLETED,
                               JobStatus.PROCESSING, JobStatus.DEAD))
    with session_scope(ctx.database_url) as session:
        repo.add_error(session, job_id=job_ids[2], attempt=1, error_message="boom")
    stage = _stage(ctx, job_ids[0], "fp-0")
    before, files = _counts(ctx), _keys(ctx)

    report = retention.purge(ctx, older_than=NINETY_DAYS)

    assert _removed(report) == ZERO | {"kept_batches": 1}
    assert _counts(ctx) == before and _keys(ctx) == files
    assert sum(key.startswith(stage.prefix) for key in files) == 2
    for status in (JobStatus.QUEUED, JobStatus.RETRYING):
        with session_scope(ctx.database_url) as session:
            session.execute(update(BatchJob).where(BatchJob.job_id == job_ids[1]).values(status=status))
        assert _removed(retention.purge(ctx, older_than=NINETY_DAYS)) == ZERO | {"kept_batches": 1}
    assert _counts(ctx) == before


def test_an_old_batch_with_a_job_finished_since_the_cutoff_is_kept(ctx):
    _, job_ids = _batch(ctx, "morning", OLD_DAY, 2, at=OLD)
    with session_scope(ctx.database_url) as session:  # re-queued (changed file) and done again last week
        session.execute(update(BatchJob).where(BatchJob.job_id == job_ids[1]).values(updated_at=RECENT))
    assert _removed(retention.purge(ctx, older_than=NINETY_DAYS)) == ZERO | {"kept_batches": 1}
    assert _counts(ctx)["batch_job_log"] == 2


def test_a_job_requeued_between_select_and_delete_keeps_its_batch(ctx, monkeypatch):
    batch_id, job_ids = _batch(ctx, "morning", OLD_DAY, 3, at=OLD)
    original = retention._Purger.purge_batch

    def requeue_first(self, selected_id):  # a replay lands after the batch was selected as finished
        with session_scope(ctx.database_url) as session:
            session.execute(update(BatchJob.__table__).where(BatchJob.job_id == job_ids[1])
                            .values(status=JobStatus.QUEUED))
        return original(self, selected_id)

    monkeypatch.setattr(retention._Purger, "purge_batch", requeue_first)
    report = retention.purge(ctx, older_than=NINETY_DAYS)
    assert _removed(report) == ZERO | {"kept_batches": 1}
    with session_scope(ctx.database_url) as session:
        assert repo.get_batch(session, batch_id=batch_id) is not None
        assert session.scalar(select(func.count()).select_from(BatchJob)) == 3


def test_a_deadlock_with_a_worker_keeps_the_batch_and_the_purge_goes_on(ctx, monkeypatch):
    """Discovery re-queues a job (its row locked) and then updates the batch row, the purge locks
    the batch row and then deletes the jobs: PostgreSQL rolls back the purge's transaction."""
    batch_id, job_ids = _batch(ctx, "morning", OLD_DAY, 2, at=OLD)
    _batch(ctx, "nightly", OLD_DAY, 1, at=OLD)  # another batch, purged all the same
    worker_has_job, purge_has_batch = threading.Event(), threading.Event()

    def worker() -> None:
        with session_scope(ctx.database_url) as session:
            session.execute(update(BatchJob.__table__).where(BatchJob.job_id == job_ids[0])
                            .values(status=JobStatus.QUEUED))
            worker_has_job.set()
            purge_has_batch.wait(10)
            time.sleep(0.3)  # the purge waits first, so its deadlock check fires first
            session.execute(update(Batch.__table__).where(Batch.id == batch_id).values(status="RUNNING"))

    original = retention._lock_batch

    def lock_then_tell(session, locked_id, still_old):
        locked = original(session, locked_id, still_old)
        if locked_id == batch_id:
            purge_has_batch.set()
        return locked

    monkeypatch.setattr(retention, "_lock_batch", lock_then_tell)
    thread = threading.Thread(target=worker)
    thread.start()
    worker_has_job.wait(10)  # uncommitted: the purge selects the batch as finished
    report = retention.purge(ctx, older_than=NINETY_DAYS)
    thread.join(20)
    assert (report.batches, report.jobs, report.kept_batches) == (1, 1, 1)
    with session_scope(ctx.database_url) as session:
        assert repo.get_batch(session, batch_id=batch_id).status == "RUNNING"
        assert session.scalar(select(func.count()).select_from(BatchJob).where(BatchJob.batch_id == batch_id)) == 2


def test_jobs_without_a_batch_go_when_finished_and_old(ctx):
    new = repo.NewJob(JobType.PROCESS_FILE, f"inbound/{OLD_DAY}/ACME/a.csv", "ACME", "high", "csv", "VENDOR")
    with session_scope(ctx.database_url) as session:
        ids = [repo.add_adhoc_job(session, job=new, business_date=OLD_DAY).job_id for _ in range(4)]
    values = [(JobStatus.CANCELLED, OLD), (JobStatus.QUEUED, OLD), (JobStatus.COMPLETED, RECENT),
              (JobStatus.PROCESSING, OLD)]
    with session_scope(ctx.database_url) as session:
        for job_id, (status, at) in zip(ids, values, strict=True):
            session.execute(update(BatchJob).where(BatchJob.job_id == job_id).values(status=status, updated_at=at))
    report = retention.purge(ctx, older_than=NINETY_DAYS)
    assert _removed(report) == ZERO | {"jobs": 1, "adhoc_jobs": 1}
    with session_scope(ctx.database_url) as session:
        assert sorted(session.scalars(select(BatchJob.job_id))) == sorted(ids[1:])


def test_two_purges_at_once_remove_each_batch_once(ctx):
    for n in range(6):
        _batch(ctx, "morning", OLD_DAY - dt.timedelta(days=n), 4, at=OLD)
    reports: list[retention.PurgeReport] = []
    threads = [threading.Thread(target=lambda: reports.append(retention.purge(ctx, older_than=NINETY_DAYS)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.batches for r in reports) == 6 and sum(r.jobs for r in reports) == 24
    assert _counts(ctx)["batches"] == 0 and _counts(ctx)["batch_job_log"] == 0


def test_the_time_budget_stops_a_purge_and_the_next_one_goes_on(ctx):
    for n in range(3):
        _batch(ctx, "morning", OLD_DAY - dt.timedelta(days=n), 1, at=OLD)
    first = retention.purge(ctx, older_than=NINETY_DAYS, time_budget_s=0)
    assert not first.complete and first.batches == 0
    second = retention.purge(ctx, older_than=NINETY_DAYS)
    assert second.complete and second.batches == 3


def test_ages_on_the_command_line():
    assert parse_age("90d") == dt.timedelta(days=90)
    assert parse_age("36H") == dt.timedelta(hours=36)
    for bad in ("banana", "0d", "90", "-1d", "1.5d", "90m", "36501d"):
        with pytest.raises(Exception, match="is not an age like 90d"):
            parse_age(bad)


def test_the_command_exits_2_on_a_bad_age(capsys):
    with pytest.raises(SystemExit) as info:
        main(["purge", "--older-than", "banana"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--older-than" in err and "'banana' is not an age like 90d or 36h" in err


@pytest.mark.parametrize("value", ["0", "-5", "ninety", "90d"])
def test_a_bad_retention_setting_names_its_variable(monkeypatch, value):
    monkeypatch.setenv("TIMESHEET_RETENTION_DAYS", value)
    with pytest.raises(ConfigurationError, match="TIMESHEET_RETENTION_DAYS"):
        load_settings()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "timesheet_batch.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def test_the_command_purges_by_the_setting_and_says_what_it_removed(ctx, tmp_path):
    _batch(ctx, "morning", OLD_DAY, 2, at=OLD)
    _batch(ctx, "nightly", RECENT_DAY, 1, at=RECENT)
    env = base_env() | {"TIMESHEET_DATA_DIR": str(tmp_path), "TIMESHEET_DATABASE_URL": ctx.database_url,
                        "TIMESHEET_RETENTION_DAYS": "5"}
    dry = _cli(env, "purge", "--older-than", "90d", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert {k: v for k, v in json.loads(dry.stdout).items() if k in ZERO} == ZERO | {"batches": 1, "jobs": 2}
    assert _counts(ctx)["batches"] == 2
    text = _cli(env, "purge")  # default age: TIMESHEET_RETENTION_DAYS (5 days): both batches
    assert text.returncode == 0, text.stderr
    assert "removed what finished before" in text.stdout and "(older than 5d)" in text.stdout
    assert [line.split() for line in text.stdout.splitlines() if line.strip().startswith(("batches", "jobs"))] == [
        ["batches", "2"], ["jobs", "3"]]
    assert _counts(ctx)["batches"] == 0


def test_the_command_never_migrates(tmp_path):
    from timesheet_batch.db.migrate import upgrade_database

    database = tmp_path / "older.sqlite"
    upgrade_database(f"sqlite:///{database}", "0002_reliability")  # a schema one migration behind
    env = base_env() | {"TIMESHEET_DATA_DIR": str(tmp_path), "TIMESHEET_DATABASE_URL": f"sqlite:///{database}"}
    for args in (("purge", "--dry-run"), ("purge", "--older-than", "1d")):
        proc = _cli(env, *args)
        assert proc.returncode == 2, proc.stderr
        assert "timesheet-batch db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    import sqlite3

    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002_reliability",)]


def test_the_purge_task_runs_the_purge(ctx, tmp_path):
    _batch(ctx, "morning", OLD_DAY, 2, at=OLD)
    env = base_env() | {"TIMESHEET_DATA_DIR": str(tmp_path), "TIMESHEET_DATABASE_URL": ctx.database_url}
    code = ("import json; from timesheet_batch.messaging.tasks import purge_task; "
            "print(purge_task.name); print(json.dumps(purge_task.apply().get()))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    name, result = proc.stdout.strip().splitlines()[-2:]
    assert name == "timesheet_batch.purge"
    assert json.loads(result)["batches"] == 1 and json.loads(result)["jobs"] == 2
    assert _counts(ctx)["batches"] == 0


def test_the_beat_entry_is_off_by_default_and_on_with_its_setting(monkeypatch):
    monkeypatch.delenv("TIMESHEET_PURGE_CRON", raising=False)
    assert "purge" not in beat_schedule(Settings())
    monkeypatch.setenv("TIMESHEET_PURGE_CRON", "")
    assert "purge" not in beat_schedule(Settings())
    monkeypatch.setenv("TIMESHEET_PURGE_CRON", "15 3 * * *")
    entry = beat_schedule(Settings())["purge"]
    assert entry["task"] == "timesheet_batch.purge" and entry["kwargs"] == {}
    assert entry["options"] == {"queue": "low"}
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {15}


@pytest.mark.parametrize("value", ["61 3 * * *", "0 3 * *", "0 3 31 2 *"])
def test_a_bad_purge_cron_names_its_variable(monkeypatch, value):
    monkeypatch.setenv("TIMESHEET_PURGE_CRON", value)
    with pytest.raises(ConfigurationError, match="TIMESHEET_PURGE_CRON"):
        validate_schedules(Settings())


def test_the_embedded_sqlite_database_is_purged_the_same_way(tmp_path):
    from timesheet_batch.db.migrate import upgrade_database

    url = f"sqlite:///{tmp_path / 'timesheet.sqlite'}"
    upgrade_database(url)
    (tmp_path / "storage").mkdir()
    sqlite_ctx = FarmContext(settings=Settings(database_url=url, data_dir=tmp_path),
                             catalog=load_catalog(PACKAGED_VENDORS_FILE), storage=LocalStorage(tmp_path / "storage"))
    _, job_ids = _batch(sqlite_ctx, "morning", OLD_DAY, 2, at=OLD, statuses=(JobStatus.DEAD,))
    _stage(sqlite_ctx, job_ids[0], "fp-0")
    _batch(sqlite_ctx, "nightly", OLD_DAY, 2, at=OLD, statuses=(JobStatus.RETRYING,))
    dry = retention.purge(sqlite_ctx, older_than=NINETY_DAYS, dry_run=True)
    real = retention.purge(sqlite_ctx, older_than=NINETY_DAYS)
    expected = ZERO | {"batches": 1, "jobs": 2, "staging_files": 2, "parked_messages": 1, "kept_batches": 1}
    assert _removed(dry) == expected
    assert _removed(real) == expected | {"parked_messages": 0}  # no publisher given
    assert _counts(sqlite_ctx) == {"batches": 1, "batch_job_log": 2, "job_errors": 0, "report_runs": 0,
                                   "job_dependencies": 0}
