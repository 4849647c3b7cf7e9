"""Priority is real: a worker on -Q high,medium,low facing a backlog starts high files first.

Files are published low first, then medium, then high, before any worker runs. With
kombu's default round-robin queue order the first files started would mix priorities, so
this test fails unless the broker consumes queues in priority order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from timesheet_batch.cli.local_workers import wait_until
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import BatchJob

DATE = "2026-11-19"
VENDORS_FILE = Path(__file__).parent / "vendors_three_priorities.yaml"
PER_PRIORITY = 6

PUBLISH_LOW_FIRST = """
import json, sys
from timesheet_batch.messaging.app import app
from timesheet_batch.messaging.routing import queue_for_key
keys = json.loads(sys.argv[1])
order = {"low": 0, "medium": 1, "high": 2}
for key in sorted(keys, key=lambda k: order[queue_for_key(k)]):
    app.send_task("timesheet_batch.process_file", args=[key])
"""


def _database_url(farm) -> str:
    return farm.database_url


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_high_priority_files_start_first(request, broker):
    farm = request.getfixturevalue("farm" if broker == "redis" else "embedded_farm")
    farm.env["TIMESHEET_VENDORS_FILE"] = str(VENDORS_FILE)
    sample = farm.cli("sample-data", "--date", DATE, "--files", str(3 * PER_PRIORITY), "--records", "20",
                      "--json", check=True)
    keys = [f["key"] for f in json.loads(sample.stdout)]
    farm.cli("db", "upgrade", check=True)
    subprocess.run([sys.executable, "-c", PUBLISH_LOW_FIRST, json.dumps(keys)], env=farm.env, check=True,
                   timeout=120, cwd=farm.data_dir.parent)

    def all_done() -> bool:
        with session_scope(_database_url(farm)) as session:
            rows = session.scalars(select(BatchJob.status)).all()
        return len(rows) == len(keys) and all(s in ("COMPLETED", "FAILED") for s in rows)

    with farm.worker(concurrency=1):
        assert wait_until(all_done, timeout_s=180, interval_s=0.3), farm.worker_log()

    with session_scope(_database_url(farm)) as session:
        started = session.scalars(select(BatchJob).order_by(BatchJob.started_at, BatchJob.id)).all()
    priorities = [job.priority for job in started]
    assert priorities == ["high"] * PER_PRIORITY + ["medium"] * PER_PRIORITY + ["low"] * PER_PRIORITY
    assert all(job.status == "COMPLETED" for job in started), [j.error_message for j in started]
