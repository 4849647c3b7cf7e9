"""A batch under fault: ≥ 100 files through both windows, then every count checked.

``verify`` proves: every file reached exactly one terminal state (one job row per file and
window), every processed file holds each good record exactly once (unique record numbers,
expected count), every outbound file has the expected record count — nothing lost,
nothing written twice.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from tests.outbound_counts import count_records
from timesheet_batch.db.engine import session_scope
from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.settings import PACKAGED_VENDORS_FILE
from timesheet_batch.vendors import load_catalog

DATE = "2026-11-21"
FAST_RECOVERY_ENV = {
    "TIMESHEET_LEASE_S": "3",
    "TIMESHEET_LOST_AFTER_S": "3",
    "TIMESHEET_RETRY_BACKOFF_S": "0.2",
    "TIMESHEET_RETRY_BACKOFF_CAP_S": "2",
    "TIMESHEET_SERVICE_TIMEOUT_S": "3",
    "TIMESHEET_CHUNK_SIZE": "100",  # several chunks per file: faults land mid-file
}


@dataclass
class Tally:
    """What RELIABILITY.md reports for a scenario."""

    files: int = 0
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    dead: list[str] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)

    def line(self, name: str) -> str:
        return (f"RELIABILITY {name}: files={self.files} records={self.records} lost={self.lost} "
                f"duplicated={self.duplicated} dead={len(self.dead)} attempts={dict(sorted(self.attempts.items()))}")


def make_sample(farm, *, files: int = 100, records: int = 300) -> dict[str, dict]:
    proc = farm.cli("sample-data", "--date", DATE, "--files", str(files), "--records", str(records),
                    "--bad-ratio", "0.02", "--seed", "11", "--json", check=True)
    farm.cli("db", "upgrade", check=True)
    return {f["key"]: f for f in json.loads(proc.stdout)}


def discover(farm, window: str) -> str:
    proc = farm.cli("discover", "--window", window, "--date", DATE, "--json", check=True)
    return json.loads(proc.stdout)["batch_id"]


def wait_for_summary(farm, window: str, *, timeout_s: float = 240, sweep_every_s: float = 3.0,
                     during=None) -> None:
    """Wait until the window's batch is summarised, sweeping as beat would; ``during()`` each tick."""
    deadline = time.monotonic() + timeout_s
    next_sweep = time.monotonic() + sweep_every_s
    while time.monotonic() < deadline:
        if during is not None:
            during()
        if _summarized(farm, window):
            return
        if time.monotonic() > next_sweep:
            farm.cli("sweep", timeout=60)  # may exit 3 while a service is down: fine
            next_sweep = time.monotonic() + sweep_every_s
        time.sleep(0.3)
    raise AssertionError(f"{window} batch not summarised in {timeout_s}s\n{farm.worker_log()[-4000:]}")


def _summarized(farm, window: str) -> bool:
    try:
        with session_scope(farm.database_url) as session:
            batch = session.scalars(select(Batch).where(Batch.window == window)).first()
            return batch is not None and batch.summarized_at is not None
    except Exception:  # the database may be down on purpose
        return False


def verify(farm, manifest: dict[str, dict], *, dead_keys: frozenset[str] = frozenset()) -> Tally:
    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    tally = Tally(files=len(manifest))
    with session_scope(farm.database_url) as session:
        stmt = select(BatchJob).where(BatchJob.report_type.in_(["PROCESS_FILE", "EXPORT_FILE"]))
        jobs = session.scalars(stmt).all()
    by_type: dict[str, Counter] = {"PROCESS_FILE": Counter(), "EXPORT_FILE": Counter()}
    for job in jobs:
        by_type[job.report_type][job.input_file_path] += 1
        tally.attempts[job.attempts] += 1
        if job.status == "DEAD":
            tally.dead.append(job.input_file_path)
    assert all(n == 1 for c in by_type.values() for n in c.values()), "a file has two job rows"
    assert set(by_type["PROCESS_FILE"]) == set(manifest)
    for job in jobs:
        expected_status = "DEAD" if job.input_file_path in dead_keys else "COMPLETED"
        assert job.status == expected_status, (job.input_file_path, job.status, job.error_message)
    for key, sample in manifest.items():
        good = sample["records"] - sample["expected_rejects"]
        tally.records += sample["records"]
        if key in dead_keys:
            continue
        vendor_id, name = key.split("/")[2], key.split("/")[3]
        numbers = pq.read_table(farm.storage_root / f"processed/{DATE}/{vendor_id}/{name}.parquet",
                                columns=["record_number"]).column("record_number").to_pylist()
        tally.duplicated += len(numbers) - len(set(numbers))
        tally.lost += max(0, good - len(set(numbers)))
        outbound = _outbound_path(farm.storage_root, vendor_id, name)
        written = count_records(outbound, catalog.get(vendor_id).output.format)
        tally.lost += max(0, good - written)
        tally.duplicated += max(0, written - good)
    assert (tally.lost, tally.duplicated) == (0, 0), tally
    assert sorted(tally.dead) == sorted(dead_keys)
    return tally


def _outbound_path(root: Path, vendor_id: str, inbound_name: str) -> Path:
    stem = inbound_name.rsplit(".", 1)[0]
    (match,) = list((root / "outbound" / vendor_id / DATE).glob(f"{stem}.*"))
    return match


def worker_children(main_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(main_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]
