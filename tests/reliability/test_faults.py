"""Fault injection with real processes, Redis and PostgreSQL (see RELIABILITY.md).

Each scenario runs ≥ 100 files through the morning and nightly windows while something
breaks, then checks that every file reached exactly one terminal state and that the
outbound record counts are exact: nothing lost, nothing written twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from tests.reliability.conftest import with_plugins
from tests.reliability.harness import DATE, discover, make_sample, verify, wait_for_summary, worker_children
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob


def _both_windows(farm, *, during=None) -> None:
    discover(farm, "morning")
    wait_for_summary(farm, "morning", during=during)
    discover(farm, "nightly")
    wait_for_summary(farm, "nightly", during=during)


def test_sigkill_pool_processes_mid_file(fault_farm):
    manifest = make_sample(fault_farm)
    kills = []
    rng = random.Random(5)

    with fault_farm.worker(concurrency=2) as workers:
        def kill_one() -> None:
            # Not before a first file completed: a pool process killed while the worker is still
            # starting makes Celery give up the whole worker ("Could not start worker
            # processes"), which is not the fault under test.
            if not kills and _completed(fault_farm) == 0:
                return
            if len(kills) < 12 and time.monotonic() > getattr(kill_one, "next", 0):
                children = worker_children(workers.process.pid)
                if children:
                    victim = rng.choice(children)
                    try:
                        os.kill(victim, signal.SIGKILL)
                        kills.append(victim)
                    except ProcessLookupError:  # an earlier victim, reaped since pgrep listed it
                        pass
                kill_one.next = time.monotonic() + rng.uniform(0.2, 0.6)

        _both_windows(fault_farm, during=kill_one)
    assert len(kills) >= 10
    tally = verify(fault_farm, manifest)
    assert sum(n for attempts, n in tally.attempts.items() if attempts > 1) >= 1  # some files really re-ran
    print(tally.line(f"sigkill x{len(kills)}"))


def test_redis_restart_loses_queued_messages_and_the_sweeper_recovers(redis_fault_farm):
    farm = redis_fault_farm
    manifest = make_sample(farm)
    restarted = []

    with farm.worker(concurrency=2):
        def restart_once() -> None:
            if not restarted and _completed(farm) >= 15:
                farm.redis.restart(down_s=1.0)
                restarted.append(_completed(farm))

        _both_windows(farm, during=restart_once)
    assert restarted and restarted[0] < len(manifest)  # the restart happened mid-batch
    print(verify(farm, manifest).line("redis restart"))


def test_postgresql_down_for_10_seconds(postgres_fault_farm):
    farm = postgres_fault_farm
    manifest = make_sample(farm)
    stopped = []

    with farm.worker(concurrency=2):
        def stop_once() -> None:
            if not stopped and _completed(farm) >= 15:
                farm.postgres.stop()
                stopped.append(time.monotonic())
                time.sleep(10)
                farm.postgres.start()

        _both_windows(farm, during=stop_once)
    assert stopped
    print(verify(farm, manifest).line("postgresql down 10s"))


def test_poison_file_ends_dead_after_bounded_attempts(fault_farm):
    manifest = make_sample(fault_farm)
    poison = sorted(manifest)[7]
    with_plugins(fault_farm, TSB_POISON_SUBSTRING=poison.rsplit("/", 1)[1])
    with fault_farm.worker(concurrency=2):
        _both_windows(fault_farm)
    tally = verify(fault_farm, manifest, dead_keys=frozenset({poison}))
    with session_scope(fault_farm.database_url) as session:
        job = session.scalars(select(BatchJob).where(BatchJob.input_file_path == poison)).one()
    assert job.attempts == 4  # TIMESHEET_MAX_RETRIES=3: the first attempt and three more
    listing = json.loads(fault_farm.cli("dead-letter", "list", "--json", check=True).stdout)
    assert [j["job_id"] for j in listing["jobs"]] == [job.job_id] and listing["messages"] == 1
    print(tally.line("poison file"))


REPUBLISH_ALL = """
from sqlalchemy import select
from timesheet_batch.context import get_context
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob
from timesheet_batch.db.repository import QueuedJob
from timesheet_batch.messaging.publisher import CeleryPublisher
with session_scope(get_context().database_url) as session:
    jobs = session.scalars(select(BatchJob)).all()
for job in jobs:
    CeleryPublisher().publish(QueuedJob(job.job_id, job.input_file_path, job.priority, job.report_type))
print(len(jobs))
"""


def test_every_message_delivered_twice_and_two_emitters(fault_farm):
    farm = fault_farm
    manifest = make_sample(farm)
    emitters = [subprocess.Popen([sys.executable, "-m", "timesheet_batch.cli.main", "discover", "--window",
                                  "morning", "--date", DATE, "--json"], env=farm.env, stdout=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in emitters]
    assert results[0]["batch_id"] == results[1]["batch_id"]
    assert sorted(r["dispatched"] for r in results) == [0, len(manifest)]
    duplicated = subprocess.run([sys.executable, "-c", REPUBLISH_ALL], env=farm.env, capture_output=True,
                                text=True, timeout=120, check=True)
    assert int(duplicated.stdout) == len(manifest)
    with farm.worker(concurrency=2):
        wait_for_summary(farm, "morning")
        discover(farm, "nightly")
        wait_for_summary(farm, "nightly")
    tally = verify(farm, manifest)
    assert set(tally.attempts) == {1}  # the second copy of each message did nothing
    with session_scope(farm.database_url) as session:
        assert len(session.scalars(select(Batch)).all()) == 2
    print(tally.line("duplicate delivery + two emitters"))


def _completed(farm) -> int:
    try:
        with session_scope(farm.database_url) as session:
            return len(session.scalars(select(BatchJob.id).where(BatchJob.status == "COMPLETED")).all())
    except Exception:
        return 0
