"""Peak memory of ``process_inbound_file`` on a large CSV file, in a fresh subprocess.

The input (``--size-mb``, default 1024) is made of sample-data parts of 1,000,000 records,
each with its own provider id prefix so records stay distinct. A child process runs the
inbound pipeline on it and reports its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``); an
idle child that imports the same modules gives the baseline. Target: at most 512 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common

NAME = "memory"
HELP = "peak RSS of the inbound pipeline on a ~1 GB CSV, in a subprocess"
TARGET_MB = 512
_PART_RECORDS = 1_000_000

_CHILD = """
import datetime as dt, json, sys, time
from timesheet_batch.pipeline import process_inbound_file
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog
root, key, catalog_path, idle = sys.argv[1:5]
out = {}
if idle == "0":
    vendor = load_catalog(catalog_path).get("ACME").model_copy(update={"max_reject_ratio": 1.0})
    started = time.perf_counter()
    result = process_inbound_file(storage=LocalStorage(root), vendor=vendor, key=key,
                                  business_date=dt.date(2026, 11, 22), chunk_size=100_000)
    out = {"seconds": time.perf_counter() - started, "records": result.records_read}
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the parent's.
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
out["peak_rss_mb"] = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps(out))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--size-mb", type=int, default=1024, help="input size in MB (default 1024)")


def _make_input(root: Path, size_mb: int, catalog) -> tuple[str, int]:
    """Write the big CSV under ``root``; (its key, its size in bytes)."""
    from timesheet_batch.sample_data import generate_sample_files
    from timesheet_batch.storage import LocalStorage

    storage = LocalStorage(root)
    [part] = generate_sample_files(
        storage, catalog, business_date=dt.date(2026, 11, 22), files=1, records=_PART_RECORDS,
        formats=["csv"], bad_ratio=0.01, seed=1,
    )
    data = storage.read_bytes(part.key)
    header, _, body = data.partition(b"\n")
    key = "inbound/2026-11-22/ACME/big.csv"
    target = root / key
    with open(target, "wb") as out:
        out.write(header + b"\n")
        written, index = 0, 0
        while written < size_mb * 1024 * 1024:
            # A distinct provider prefix per part keeps the cross-record rules realistic.
            prefix = b"K%03dP" % index  # ids may be quoted ("P…") or not (P…)
            chunk = (b"\n" + body).replace(b'\n"P', b'\n"' + prefix).replace(b"\nP", b"\n" + prefix)[1:]
            out.write(chunk if chunk.endswith(b"\n") else chunk + b"\n")
            written, index = written + len(chunk), index + 1
    storage.delete(part.key)
    return key, target.stat().st_size


def _child(root: Path, key: str, catalog_path: Path, idle: bool) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), key, str(catalog_path), "1" if idle else "0"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict:
    """Make the input, run the idle and the working child; the results as a dict."""
    from timesheet_batch.vendors import load_catalog

    catalog_path = Path(__file__).parents[1] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
    with common.scratch_dir("bench-memory-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        key, size = _make_input(root, args.size_mb, load_catalog(catalog_path))
        made_s = time.perf_counter() - started
        idle = _child(root, key, catalog_path, idle=True)
        work = _child(root, key, catalog_path, idle=False)
    result = {
        "case": NAME, **common.machine(), "input_mb": size / 2**20, "input_made_s": made_s,
        "records": work["records"], "seconds": work["seconds"], "records_per_s": work["records"] / work["seconds"],
        "idle_peak_rss_mb": idle["peak_rss_mb"], "peak_rss_mb": work["peak_rss_mb"], "target_mb": TARGET_MB,
        "within_target": work["peak_rss_mb"] <= TARGET_MB,
    }
    rows = [
        ["idle child (imports only)", "-", "-", idle["peak_rss_mb"]],
        ["process_inbound_file", f"{result['input_mb']:,.0f}", work["records"], work["peak_rss_mb"]],
    ]
    common.print_table(f"memory: nproc {result['nproc']}, target <= {TARGET_MB} MB", ["run", "input MB", "records",
                       "peak RSS MB"], rows)
    print(f"{result['records_per_s']:,.0f} records/s; within target: {result['within_target']}")
    return result
