"""Scaling: wall time of the morning window for 250, 2,500 and 10,000 small files.

One farm (database, broker, 2 worker processes) runs the sizes in turn, each as its own
business date (its own batch), smallest first, so later batches also meet a bigger jobs
table, as a real farm would. Small files: 20 records each, all six sample vendors.

Reference, same run: linear extrapolation from the smallest size, ``t(n0) * n / n0``.
Target: the largest size within 1.1 x linear.
"""

from __future__ import annotations

import argparse
import datetime as dt

from benchmarks import common, farm, seed

NAME = "scaling"
HELP = "scaling: wall time for 250, 2,500 and 10,000 small files vs linear extrapolation from 250"
SIZES, QUICK_SIZES = (250, 2_500, 10_000), (25, 50, 100)
RECORDS = 20
FIRST_DAY = dt.date(2026, 11, 1)
TARGET_RATIO = 1.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} (CI)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help=f"file counts (default {SIZES})")


def run(args: argparse.Namespace) -> dict:
    """Generate every size, then run the windows smallest first; the results as a dict."""
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    runs = []
    with farm.farm_session(NAME) as session:
        days = [FIRST_DAY + dt.timedelta(days=i) for i in range(len(sizes))]
        made_s = sum(seed.generate(session, files=n, records=RECORDS, day=day, seed=11)
                     for n, day in zip(sizes, days, strict=True))
        farm.start_workers(session)
        for n, day in zip(sizes, days, strict=True):
            runs.append(farm.run_window(session, "morning", day, timeout_s=max(600, n / 5)))
    base = runs[0]["seconds"] / sizes[0]
    for n, entry in zip(sizes, runs, strict=True):
        entry["linear_s"] = base * n
        entry["ratio_vs_linear"] = entry["seconds"] / entry["linear_s"]
    result = {
        "case": NAME, **common.machine(), "quick": args.quick, "records_per_file": RECORDS, "sizes": sizes,
        "input_made_s": made_s, "runs": runs, "target_ratio": TARGET_RATIO,
        "within_target": runs[-1]["ratio_vs_linear"] <= TARGET_RATIO,
    }
    rows = [[f"{n:,} files", e["status"], e["seconds"], e["linear_s"], e["files"] / e["seconds"], e["ratio_vs_linear"]]
            for n, e in zip(sizes, runs, strict=True)]
    title = (f"scaling: {RECORDS} records per file, nproc {result['nproc']}, load {result['load_average'][0]}; "
             f"target: {sizes[-1]:,} files <= {TARGET_RATIO} x linear from {sizes[0]:,}")
    common.print_table(title, ["run", "status", "seconds", "linear s", "files/s", "x linear"], rows)
    print(f"within target: {result['within_target']}")
    return result
