"""Daily volume: records/s end to end for 250 files x 10,000 records on 2 worker processes.

Discovery -> chord of ``process_file`` -> summary (the morning window), completion read from
the database. ``--full`` runs 2,500 files (25 million records); ``--quick`` 6 x 5,000.

Reference, same run: the single-process pipeline rate (``process_inbound_file`` in this
process, one file per sample vendor, so the same format mix) on files of the same size.
Target: >= 200,000 records/s on 2 processes; the ratio to the single process says how much
of the second core the farm turns into throughput.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from benchmarks import common, farm, seed

NAME = "volume"
HELP = "daily volume: records/s end to end, 250 x 10,000-record files, vs the single-process pipeline"
DAY = dt.date(2026, 11, 23)
FILES, FULL_FILES, QUICK_FILES = 250, 2_500, 6
RECORDS, QUICK_RECORDS = 10_000, 5_000
TARGET_RECORDS_PER_S = 200_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_FILES} x {QUICK_RECORDS:,} records (CI)")
    parser.add_argument("--full", action="store_true", help=f"{FULL_FILES:,} files instead of {FILES}")
    parser.add_argument("--files", type=int, default=None, help="files (overrides --full)")


def single_process_rate(records: int) -> dict:
    """records/s of ``process_inbound_file`` in this process over one file per sample vendor."""
    from timesheet_batch.pipeline import process_inbound_file
    from timesheet_batch.sample_data import generate_sample_files
    from timesheet_batch.storage import LocalStorage
    from timesheet_batch.vendors import load_catalog

    catalog = load_catalog(Path(__file__).parents[1] / "timesheet_batch" / "vendors" / "sample_vendors.yaml")
    with common.scratch_dir("bench-volume-ref-") as tmp:
        storage = LocalStorage(tmp)
        samples = generate_sample_files(storage, catalog, business_date=DAY, files=len(catalog.vendors),
                                        records=records, bad_ratio=0.01, seed=5)
        started = time.perf_counter()
        for sample in samples:
            process_inbound_file(storage=storage, vendor=catalog.get(sample.vendor_id), key=sample.key,
                                 business_date=DAY, chunk_size=100_000)
        seconds = time.perf_counter() - started
    total = sum(s.records for s in samples)
    return {"files": len(samples), "records": total, "seconds": seconds, "records_per_s": total / seconds}


def run(args: argparse.Namespace) -> dict:
    """Measure the reference, then the farm; the results as a dict."""
    files = args.files or (QUICK_FILES if args.quick else FULL_FILES if args.full else FILES)
    records = QUICK_RECORDS if args.quick else RECORDS
    reference = single_process_rate(records)
    with farm.farm_session(NAME) as session:
        made_s = seed.generate(session, files=files, records=records, day=DAY, seed=5)
        farm.start_workers(session)
        morning = farm.run_window(session, "morning", DAY, timeout_s=3600)
    rate = morning["records_read"] / morning["seconds"]
    result = {
        "case": NAME, **common.machine(), "quick": args.quick, "files": files, "records_per_file": records,
        "input_made_s": made_s, "reference_single_process": reference, "morning": morning,
        "records_per_s": rate, "ratio_vs_single_process": rate / reference["records_per_s"],
        "target_records_per_s": TARGET_RECORDS_PER_S, "within_target": rate >= TARGET_RECORDS_PER_S,
    }
    rows = [
        [f"single process, {reference['files']} files (one per vendor)", reference["records"],
         reference["seconds"], reference["records_per_s"], 1.0],
        [f"farm, 2 processes, {files:,} files", morning["records_read"], morning["seconds"], rate,
         result["ratio_vs_single_process"]],
    ]
    title = (f"volume: {files:,} files x {records:,} records, nproc {result['nproc']}, "
             f"load {result['load_average'][0]}; target >= {TARGET_RECORDS_PER_S:,} records/s")
    common.print_table(title, ["run", "records", "seconds", "records/s", "x single"], rows)
    print(f"status {morning['status']}; within target: {result['within_target']}")
    return result
