"""Personal data stays put: after a real run on Redis and PostgreSQL, no raw SSN or name
appears in broker messages, task results, logs, database text columns, rejects files, or
the outbound files of vendors whose role masks it.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import redis
from sqlalchemy import text

from timesheet_batch.db.engine import get_engine
from timesheet_batch.settings import PACKAGED_VENDORS_FILE
from timesheet_batch.vendors import load_catalog

DATE = "2026-11-14"


def _personal_values(storage_root) -> tuple[set[str], set[str]]:
    """Every SSN (both spellings) and full name in the canonical data."""
    ssns, names = set(), set()
    for path in (storage_root / "processed").rglob("*.parquet"):
        table = pq.read_table(path, columns=["provider_ssn", "provider_name"])
        for ssn in table.column("provider_ssn").to_pylist():
            if ssn:
                ssns |= {ssn, f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"}
        names |= {n for n in table.column("provider_name").to_pylist() if n and " " in n}
    return ssns, names


def _leaks(blob: str, values: set[str]) -> set[str]:
    return {v for v in values if v in blob}


def _redis_dump(url: str) -> str:
    client = redis.Redis.from_url(url)
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"list":
            parts.extend(client.lrange(key, 0, -1))
        elif kind == b"hash":
            parts.extend(client.hgetall(key).values())
        elif kind == b"zset":
            parts.extend(client.zrange(key, 0, -1))
        elif kind == b"set":
            parts.extend(client.smembers(key))
    return b"\n".join(parts).decode(errors="replace")


def _database_dump(url: str) -> str:
    with get_engine(url).connect() as connection:
        rows = [
            *connection.execute(text("SELECT * FROM batch_job_log")).all(),
            *connection.execute(text("SELECT * FROM batches")).all(),
            *connection.execute(text("SELECT * FROM job_errors")).all(),
        ]
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def test_no_personal_data_outside_its_place(farm):
    farm.cli("sample-data", "--date", DATE, "--files", "12", "--records", "200", "--bad-ratio", "0.04",
             check=True)
    (farm.storage_root / "inbound" / DATE / "ACME" / "broken.csv").write_text("EMP,NAME\nA1,Jo Broken\n")
    farm.cli("discover", "--window", "morning", "--date", DATE, check=True)
    queued_messages = _redis_dump(farm.env["TIMESHEET_BROKER_URL"])  # before any worker took them
    proc = farm.cli("-v", "run", "--date", DATE, "--workers", "2", timeout=600)
    assert proc.returncode == 1, proc.stderr  # broken.csv fails

    ssns, names = _personal_values(farm.storage_root)
    assert len(ssns) > 100 and len(names) > 50
    everything = {
        "broker messages": queued_messages,
        "redis after the run (results, chords)": _redis_dump(farm.env["TIMESHEET_BROKER_URL"]),
        "worker and cli logs": farm.worker_log() + proc.stderr + proc.stdout,
        "database": _database_dump(farm.database_url),
        "rejects files": "\n".join(p.read_text(errors="replace")
                                   for p in (farm.storage_root / "rejects").rglob("*.csv")),
    }
    for place, blob in everything.items():
        assert not _leaks(blob, ssns), f"raw SSN in {place}"
        assert not _leaks(blob, names), f"full name in {place}"

    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    checked = 0
    for path in (farm.storage_root / "outbound").rglob("*.*"):
        vendor = catalog.get(path.relative_to(farm.storage_root / "outbound").parts[0])
        policy = catalog.masking_for(vendor.role)
        content = path.read_text(encoding=vendor.output.encoding, errors="replace")
        if policy.get("provider_ssn", "none") != "none":
            assert not _leaks(content, ssns), f"raw SSN in {path.name} for role {vendor.role}"
            checked += 1
        if policy.get("provider_name", "none") != "none":
            assert not _leaks(content, names), f"full name in {path.name} for role {vendor.role}"
    assert checked > 0
