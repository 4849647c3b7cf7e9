"""Priority latency: start delay of a high-priority file behind a 2,000-file low backlog.

A batch of 2,000 low-priority files (EUREKA and FRESNO, 140 records each) is discovered and
dispatched to the ``low`` queue; while the 2 worker processes work through it, one
high-priority file at a time (ACME/BAYCARE, 140 records) is submitted as ``celery call``
would (``send_task``; the router puts it in ``high``). Its start delay is the job row's
``started_at`` minus the submit time (both naive UTC, same machine). p95 over the trials
(>= 20; nearest rank).

Reference, same run, before the backlog: the same kind of file submitted alone to idle
workers, submit -> ``completed_at``. Target: p95 start delay <= 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import time

from benchmarks import common, farm, seed

NAME = "priority"
HELP = "priority latency: p95 start delay of a high file behind a 2,000-file low backlog"
BACKLOG_DAY, HIGH_DAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
BACKLOG, QUICK_BACKLOG = 2_000, 100
TRIALS, QUICK_TRIALS = 20, 5
RECORDS = 140
TARGET_P95_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_BACKLOG} backlog files, {QUICK_TRIALS} trials")
    parser.add_argument("--trials", type=int, default=None, help=f"high-priority submissions (default {TRIALS})")


def _job_times(session: farm.FarmSession, key: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    from sqlalchemy import select

    from timesheet_batch.db.engine import session_scope
    from timesheet_batch.db.models import BatchJob

    with session_scope(session.database_url) as db:
        row = db.execute(select(BatchJob.started_at, BatchJob.completed_at)
                         .where(BatchJob.input_file_path == key)).first()
    return (row.started_at, row.completed_at) if row else (None, None)


def _submit_and_wait(session: farm.FarmSession, key: str, *, until: str, timeout_s: float = 120) -> float:
    """Submit ``key`` as an ad hoc file; seconds from submit to its ``started_at``/``completed_at``."""
    from timesheet_batch.messaging.app import app

    submitted = farm.utc_now()
    app.send_task("timesheet_batch.process_file", args=[key])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        started, completed = _job_times(session, key)
        moment = started if until == "started" else completed
        if moment is not None:
            return (moment - submitted).total_seconds()
        time.sleep(0.01)
    raise RuntimeError(f"{key} not {until} within {timeout_s:.0f}s\n{session.worker_log()}")


def _backlog_left(session: farm.FarmSession, batch_id: str) -> int:
    from timesheet_batch.db import repository as repo
    from timesheet_batch.db.engine import session_scope

    with session_scope(session.database_url) as db:
        return repo.job_counts(db, batch_id=batch_id).get("QUEUED", 0)


def run(args: argparse.Namespace) -> dict:
    """Reference alone, then trials behind the backlog; the results as a dict."""
    backlog = QUICK_BACKLOG if args.quick else BACKLOG
    trials = args.trials or (QUICK_TRIALS if args.quick else TRIALS)
    with farm.farm_session(NAME) as session:
        from timesheet_batch.context import get_context
        from timesheet_batch.jobs.discovery import discover_window
        from timesheet_batch.messaging.publisher import dispatch_batch
        from timesheet_batch.sample_data import generate_sample_files

        ctx = get_context()
        seed.generate(session, files=backlog, records=RECORDS, day=BACKLOG_DAY, formats=["xml", "fixed_width"])
        highs = generate_sample_files(ctx.storage, ctx.catalog, business_date=HIGH_DAY, files=trials + 1,
                                      records=RECORDS, formats=["csv"], bad_ratio=0.01, seed=9)
        farm.start_workers(session)
        alone_s = _submit_and_wait(session, highs[0].key, until="completed")
        batch = discover_window(ctx, window="morning", business_date=BACKLOG_DAY)
        dispatch_batch(batch)
        delays, left = [], []
        rng = random.Random(1)
        for sample in highs[1:]:
            time.sleep(rng.uniform(0.1, 0.3))  # not in step with the backlog's files
            left.append(_backlog_left(session, batch.batch_id))
            delays.append(_submit_and_wait(session, sample.key, until="started"))
    p95 = sorted(delays)[max(0, math.ceil(0.95 * len(delays)) - 1)]
    result = {
        "case": NAME, **common.machine(), "quick": args.quick, "backlog_files": backlog, "trials": trials,
        "reference_alone_s": alone_s, "delays_s": delays, "backlog_queued_at_submit": left,
        "p50_s": sorted(delays)[len(delays) // 2], "p95_s": p95, "max_s": max(delays),
        "p95_vs_alone": p95 / alone_s, "target_p95_s": TARGET_P95_S, "within_target": p95 <= TARGET_P95_S,
    }
    rows = [["one high file alone (submit -> completed)", "-", alone_s, 1.0],
            [f"start delay behind backlog, p50 of {trials}", min(left), result["p50_s"], result["p50_s"] / alone_s],
            [f"start delay behind backlog, p95 of {trials}", min(left), p95, result["p95_vs_alone"]],
            ["start delay behind backlog, max", min(left), result["max_s"], result["max_s"] / alone_s]]
    title = (f"priority: {backlog:,} low files queued, nproc {result['nproc']}, load {result['load_average'][0]}; "
             f"target p95 <= {TARGET_P95_S} s")
    common.print_table(title, ["run", "min backlog", "seconds", "x alone"], rows)
    print(f"within target: {result['within_target']}")
    return result
