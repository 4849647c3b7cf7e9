"""The operator's command rides through what the farm rides through: ``timesheet-batch run
--workers 0`` watches a window while Redis restarts empty (every queued message lost) and the
database link is cut for 10 s through a proxy, and still exits 0 with every file done once.
The same with report jobs in flight."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from tests.reliability.conftest import _farm, with_plugins
from tests.reliability.harness import DATE, make_sample, verify
from tests.reliability.servers import TcpProxy
from timesheet_batch.db.engine import dispose_engines, session_scope
from timesheet_batch.db.models import BatchJob


@pytest.fixture
def proxied_farm(tmp_path, pg_url, private_redis):
    """A private Redis the test restarts, and PostgreSQL behind a proxy the test cuts."""
    proxy = TcpProxy(5432).start()
    proxied_url = re.sub(r"@([^:/]+):5432/", f"@127.0.0.1:{proxy.port}/", pg_url)
    farm = _farm(tmp_path, private_redis.url, proxied_url)
    farm.redis, farm.proxy, farm.direct_database_url = private_redis, proxy, pg_url
    yield farm
    proxy.close()
    dispose_engines()


def _completed(farm, job_type: str) -> int:
    with session_scope(farm.direct_database_url) as session:
        return session.scalar(select(func.count()).select_from(BatchJob)
                              .where(BatchJob.status == "COMPLETED", BatchJob.report_type == job_type))


def _command(farm, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "timesheet_batch.cli.main", *args], env=farm.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=farm.data_dir.parent)


def _finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _recorded(farm, report_type: str) -> bool:
    with session_scope(farm.direct_database_url) as session:
        return session.scalar(select(func.count()).select_from(BatchJob)
                              .where(BatchJob.report_type == report_type)) > 0


def _watch_through_outages(farm, *, window: str, threshold: int,
                           report: str | None = None) -> list[subprocess.CompletedProcess]:
    """``run --workers 0 --window W`` (and ``report --type REPORT --enqueue``, started just
    before) with both outages once ``threshold`` of the window's jobs completed (counted by
    kind: the morning's dependent reports must not count for the nightly window)."""
    watchers = [_command(farm, "run", "--workers", "0", "--window", window, "--date", DATE, "--timeout", "600")]
    deadline = time.monotonic() + 300
    job_type = "PROCESS_FILE" if window == "morning" else "EXPORT_FILE"
    while _completed(farm, job_type) < threshold and watchers[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert watchers[0].poll() is None, "the window ended before the outages"
    if report:
        watchers.append(_command(farm, "report", "--type", report, "--date", DATE, "--enqueue", "--timeout", "600"))
        # Past its preflight (a service missing at the start is an exit 3, rightly): its job is
        # recorded, its message on the broker or running.
        while not _recorded(farm, report) and time.monotonic() < deadline:
            time.sleep(0.1)
    farm.redis.restart(down_s=1.0)  # empty: every queued message is gone
    farm.proxy.cut()  # the database link: 10 s
    time.sleep(10)
    farm.proxy.restore()
    return [_finished(w) for w in watchers]


def test_run_watches_a_window_through_a_redis_restart_and_a_database_cut(proxied_farm):
    farm = proxied_farm
    manifest = make_sample(farm, files=60, records=300)
    with farm.worker(concurrency=2):
        (morning,) = _watch_through_outages(farm, window="morning", threshold=15)
        night, report = _watch_through_outages(farm, window="nightly", threshold=2,
                                               report="MONTHLY_REPORT")
    # The morning window is slow enough that the outage always lands inside it; the nightly one
    # (exports) may end just as it starts, so only the morning run must have waited.
    assert "waiting up to 300s" in morning.stderr  # it said once what it waited for
    for result in (morning, night):
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert result.returncode == 0, result.stderr[-3000:]
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr[-3000:]
    with session_scope(farm.direct_database_url) as session:
        job = session.scalars(select(BatchJob).where(BatchJob.report_type == "MONTHLY_REPORT")).one()
        assert job.status == "COMPLETED"
    print(verify(farm, manifest).line("run --workers 0 through redis restart + db cut"))


def test_a_report_whose_worker_is_killed_is_taken_over_when_its_lease_runs_out(fault_farm, tmp_path):
    farm = with_plugins(fault_farm, TSB_CRASH_REPORT_MARKER=str(tmp_path / "report-crashed"))
    farm.cli("db", "upgrade", check=True)
    with farm.worker(concurrency=1):
        # --timeout 120: far below the old one-hour stale rule for reports
        proc = farm.cli("report", "--type", "DAILY_REPORT", "--date", DATE, "--enqueue", "--timeout", "120",
                        "--json", timeout=180)
    assert (tmp_path / "report-crashed").exists()  # the first run really died
    assert proc.returncode == 0, proc.stderr[-3000:] + farm.worker_log()[-3000:]
    with session_scope(farm.database_url) as session:
        job = session.scalars(select(BatchJob).where(BatchJob.report_type == "DAILY_REPORT")).one()
        assert (job.status, job.attempts) == ("COMPLETED", 2)
