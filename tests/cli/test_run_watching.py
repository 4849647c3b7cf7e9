"""``run --workers 0`` says when no worker consumes the farm's queues, instead of waiting at
0/N without a hint."""

from __future__ import annotations

import subprocess
import sys
import time

DATE = "2026-11-20"


def test_run_without_any_worker_says_so_and_keeps_waiting(farm):
    farm.cli("sample-data", "--date", DATE, "--files", "2", "--records", "10", check=True)
    run = subprocess.Popen(
        [sys.executable, "-m", "timesheet_batch.cli.main", "run", "--workers", "0", "--window", "morning",
         "--date", DATE, "--timeout", "120"],
        env=farm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=farm.data_dir.parent,
    )
    try:
        time.sleep(20)  # the hint comes after 10 s without progress
        assert run.poll() is None  # still waiting: a worker may yet come
    finally:
        run.terminate()
        _, stderr = run.communicate(timeout=30)
    assert "no worker is consuming high, medium or low" in stderr, stderr[-2000:]
    assert stderr.count("no worker is consuming") == 1  # said once, not every poll


def test_run_with_a_worker_gives_no_such_hint(farm):
    farm.cli("sample-data", "--date", DATE, "--files", "2", "--records", "10", check=True)
    with farm.worker(concurrency=1):
        proc = farm.cli("run", "--workers", "0", "--window", "morning", "--date", DATE, "--timeout", "120")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no worker is consuming" not in proc.stderr
