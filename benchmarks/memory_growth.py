"""RSS growth of a worker's processes over many windows (no kills): the soak's leak, quickly.

Not in ``memory.py``, which measures the peak of one big file in a bare subprocess: growth
needs a real ``celery worker`` and files that fail. One worker with a single pool process
(``-c 1``) runs ``--windows`` business dates back to back, each the soak's inputs
(``soak.make_inputs``: ``--files`` good files of ``--records`` records over the sample
vendors, plus 13 files that must FAIL) through the morning and the nightly window. RSS of the
worker's main and pool process is sampled after every window; growth per window and per task
is the least-squares slope over the samples from the third window on (warm-up excluded).

What grew before the fix (RELIABILITY.md, "Soak"): each failed task left a reference cycle
(~190 KB, Celery's trace frame and billiard's ExceptionInfo) that only a full collection frees,
which a pool process practically never ran (``messaging/tasks.py``, the ``gc`` hooks). The
main process's kombu timer keeps one cancelled time-limit entry per task until the task's soft
limit has passed (55 min for the job tasks), so it grows by ~0.5 KB per task for that long.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from benchmarks import common, cpu, farm, soak

NAME = "memory-growth"
HELP = "worker RSS growth per window (main and pool process, -c 1) over back-to-back windows with failing files"
FIRST_DAY = dt.date(2026, 1, 5)
#: Samples before this window are warm-up (first files of every format and vendor).
WARM_WINDOWS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--windows", type=int, default=20, help="business dates, each morning + nightly (default 20)")
    parser.add_argument("--files", type=int, default=100, help="good inbound files per date (default 100)")
    parser.add_argument("--records", type=int, default=200, help="records per file (default 200)")
    parser.add_argument("--broker-db", default="auto",
                        help="Redis database of the broker and results, or 'auto' (the farm cases' pick)")


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024 if "VmRSS" in fields else None


def _jobs(session: farm.FarmSession) -> int:
    from sqlalchemy import func, select

    from timesheet_batch.db.engine import session_scope
    from timesheet_batch.db.models import BatchJob

    with session_scope(session.database_url) as db:
        return db.scalar(select(func.count()).select_from(BatchJob))


def run(args: argparse.Namespace) -> dict:
    """Run the windows; RSS per window and the growth per window and per task, as a dict."""
    samples = []
    with soak.soak_session(args.broker_db, "same") as session:
        farm.start_workers(session, concurrency=1)
        main = farm.worker_pid(session)
        started = time.monotonic()
        for index in range(args.windows):
            day = FIRST_DAY + dt.timedelta(days=index)
            soak.make_inputs(session, day, files=args.files, records=args.records, seed=index)
            for window in ("morning", "nightly"):
                farm.run_window(session, window, day, timeout_s=600)
            pool = sorted(cpu._children(main))
            samples.append({"window": index, "t_s": round(time.monotonic() - started, 1), "jobs": _jobs(session),
                            "main_rss_mb": _rss_mb(main), "pool_pids": pool,
                            "pool_rss_mb": [_rss_mb(pid) for pid in pool]})
            print(f"window {index}: jobs {samples[-1]['jobs']}, main {samples[-1]['main_rss_mb']:.1f} MB, "
                  f"pool {[round(v, 1) for v in samples[-1]['pool_rss_mb'] if v]} MB", flush=True)
    warm = [s for s in samples if s["window"] >= WARM_WINDOWS and len(s["pool_rss_mb"]) == 1]
    same_pool = [s for s in warm if s["pool_pids"] == warm[0]["pool_pids"]] if warm else []

    def slopes(key, pick) -> dict:
        per_window = soak._slope([(s["window"], pick(s[key])) for s in same_pool])
        per_job = soak._slope([(s["jobs"], pick(s[key])) for s in same_pool])
        return {"mb_per_window": per_window, "kb_per_task": per_job * 1024 if per_job is not None else None}

    result = {
        "case": NAME, **common.machine(), "windows": args.windows,
        "files": args.files, "records": args.records, "samples": samples,
        "main": slopes("main_rss_mb", lambda v: v), "pool": slopes("pool_rss_mb", lambda v: v[0]),
    }
    rows = [[role, f"{samples[0][key] if role == 'main' else samples[0][key][0]:.1f}",
             f"{samples[-1][key] if role == 'main' else samples[-1][key][-1]:.1f}",
             _show(result[role]["mb_per_window"]), _show(result[role]["kb_per_task"])]
            for role, key in (("main", "main_rss_mb"), ("pool", "pool_rss_mb"))]
    common.print_table(f"{NAME}: {args.windows} windows, {samples[-1]['jobs']} jobs, nproc {result['nproc']}",
                       ["process", "RSS after window 0 MB", "RSS at end MB", "MB per window", "KB per task"], rows)
    return result


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"
