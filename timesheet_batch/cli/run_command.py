"""``timesheet-batch run``: run windows to the end with local workers, progress, summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from timesheet_batch.cli import broker, render
from timesheet_batch.cli.commands import business_date_or_today
from timesheet_batch.cli.local_workers import LocalWorkers
from timesheet_batch.cli.preflight import preflight
from timesheet_batch.context import FarmContext, get_context
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError, WaitFailedError
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.jobs.outage import OutageRider
from timesheet_batch.states import TERMINAL_JOB_STATES, BatchStatus
from timesheet_batch.storage.layout import inbound_prefix

SAMPLE_FILES = 48
SAMPLE_RECORDS = 1_000
SAMPLE_BAD_RATIO = 0.02
#: A batch whose jobs are all done but whose chord callback never came gets summarised here.
LOST_SUMMARY_GRACE_S = 10.0
#: With --workers 0, nothing finished for this long: check that some worker consumes the queues.
NO_PROGRESS_HINT_S = 10.0


def cmd_run(args: argparse.Namespace) -> int:
    ctx = get_context()
    workers_n = args.workers if args.workers is not None else (os.cpu_count() or 2)
    if workers_n < 0:
        raise ConfigurationError("--workers must be 0 or more")
    if not args.timeout > 0:
        raise ConfigurationError("--timeout must be a number of seconds above 0")
    preflight(ctx)  # a service that is not there at all: exit 3 now
    rider = OutageRider(ctx.settings.outage_tolerance_s)
    business_date = business_date_or_today(args)
    if args.sample:
        _write_sample(ctx, business_date)
    windows = [args.window] if args.window else ["morning", "nightly"]
    workers = None
    if workers_n:
        log_path = ctx.settings.data_path / "logs" / "run-worker.log"
        workers = LocalWorkers(concurrency=workers_n, log_path=log_path).start()
    try:
        results = [_run_window(ctx, w, business_date, workers, args, rider) for w in windows]
    finally:
        if workers is not None:
            workers.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(r["status"] == BatchStatus.COMPLETED for r in results) else 1


def _write_sample(ctx: FarmContext, business_date) -> None:
    # Deferred: the sample writer brings pyarrow and every format writer (~0.5 s to import).
    from timesheet_batch.sample_data import generate_sample_files

    if next(iter(ctx.storage.list(inbound_prefix(business_date))), None) is not None:
        # Rewriting them would change their fingerprints and process the day again.
        print(f"sample: inbound files for {business_date} are already there", file=sys.stderr)
        return
    files = generate_sample_files(
        ctx.storage, ctx.catalog, business_date=business_date, files=SAMPLE_FILES,
        records=SAMPLE_RECORDS, bad_ratio=SAMPLE_BAD_RATIO, seed=7,
    )
    print(f"sample: {len(files)} inbound file(s), {sum(f.records for f in files):,} record(s) "
          f"for {business_date}", file=sys.stderr)


def _run_window(ctx: FarmContext, window: str, business_date, workers, args, rider: OutageRider) -> dict:
    # Discovery is idempotent and a chord sent twice is harmless (claims are fenced), so both
    # steps can simply be retried through an outage.
    result = rider.call(lambda: discover_window(ctx, window=window, business_date=business_date),
                        what="discovery (database)")
    rider.call(lambda: broker.dispatch_batch(result), what="dispatch (broker)")
    print(f"{window} window {business_date}: batch {result.batch_id}, {result.total_files} file(s)",
          file=sys.stderr)
    _wait(ctx, result.batch_id, workers, timeout_s=args.timeout, rider=rider)
    outcome = rider.call(lambda: _outcome(ctx, result.batch_id), what="reading the batch (database)")
    if not args.json:
        _print_summary(outcome)
    return outcome


def _outcome(ctx: FarmContext, batch_id: str) -> dict:
    with session_scope(ctx.database_url) as session:
        batch = repo.get_batch(session, batch_id=batch_id)
        jobs = repo.batch_jobs(session, batch_id=batch_id)
        return {**render.batch_dict(batch), "failed_files": [
            {"job_id": j.job_id, "file": j.input_file_path, "status": j.status, "reason": j.error_message}
            for j in jobs if j.status != "COMPLETED"]}


def _progress(ctx: FarmContext, batch_id: str) -> tuple[bool, int, int, dict]:
    """(summarised, files done, files in the batch, jobs per state)."""
    with session_scope(ctx.database_url) as session:
        batch = repo.get_batch(session, batch_id=batch_id)
        counts = repo.job_counts(session, batch_id=batch_id)
    done = sum(n for s, n in counts.items() if s in TERMINAL_JOB_STATES)
    return batch.summarized_at is not None, done, batch.total_files, counts


def _wait(ctx: FarmContext, batch_id: str, workers: LocalWorkers | None, *, timeout_s: float,
          rider: OutageRider) -> None:
    bar = ProgressBar(sys.stderr)
    deadline = time.monotonic() + timeout_s
    all_done_since = None
    next_sweep = time.monotonic() + ctx.settings.sweep_interval_s
    idle = _IdleWatch(enabled=workers is None)
    while True:
        summarized, done, total, counts = rider.call(lambda: _progress(ctx, batch_id), what="watching the batch "
                                                     "(database)")
        bar.show(done, total, counts)
        if summarized:
            bar.finish()
            return
        if done == total:
            all_done_since = all_done_since or time.monotonic()
            if time.monotonic() - all_done_since > LOST_SUMMARY_GRACE_S:
                # the chord callback never came: the sweeper summarises it
                rider.call(broker.sweep_once, what="sweeping (broker and database)")
                all_done_since = time.monotonic()
        else:
            all_done_since = None
        if time.monotonic() > next_sweep:  # no beat may be running: recover lost work here too
            rider.call(broker.sweep_once, what="sweeping (broker and database)")
            next_sweep = time.monotonic() + ctx.settings.sweep_interval_s
        idle.check(done, rider)
        if workers is not None and not workers.alive():
            bar.finish()
            raise WaitFailedError(f"the local workers stopped; see {workers.log_path}")
        if time.monotonic() > deadline:
            bar.finish()
            raise WaitFailedError(f"batch {batch_id} did not finish within {timeout_s:.0f}s")
        time.sleep(0.2)


class _IdleWatch:
    """With ``--workers 0``: if nothing finished for a while, ask whether any worker consumes the
    farm's queues, and say so once per idle spell when none does."""

    def __init__(self, *, enabled: bool):
        self.enabled = enabled
        self.last_done = -1
        self.since = time.monotonic()
        self.said = False

    def check(self, done: int, rider: OutageRider) -> None:
        if not self.enabled:
            return
        if done != self.last_done:
            self.last_done, self.since, self.said = done, time.monotonic(), False
            return
        if self.said or time.monotonic() - self.since < NO_PROGRESS_HINT_S:
            return
        self.since = time.monotonic()  # ask again after another quiet spell
        consumers = rider.call(broker.consumers, what="asking for workers (broker)")
        if consumers == 0:
            self.said = True
            print("\ntimesheet-batch: no worker is consuming high, medium or low; start one with "
                  "`celery -A timesheet_batch worker -Q high,medium,low` (still waiting)", file=sys.stderr, flush=True)


def _print_summary(outcome: dict) -> None:
    print(f"\n{outcome['window']} {outcome['business_date']}: {outcome['status']}  "
          f"files {outcome['files_completed']}/{outcome['total_files']} completed, "
          f"{outcome['files_failed']} failed, {outcome['files_dead']} dead, {outcome['files_cancelled']} cancelled")
    print(f"  records read {outcome['records_read']:,}, written {outcome['records_written']:,}, "
          f"rejected {outcome['records_rejected']:,} in {(outcome.get('duration_ms') or 0) / 1000:.1f}s")
    if outcome.get("summary_key"):
        print(f"  summary: {outcome['summary_key']}")
    for failed in outcome["failed_files"]:
        print(f"  {failed['status']}: {failed['file']}: {failed['reason']}")


class ProgressBar:
    """A one-line progress bar on a terminal; a line every few seconds otherwise."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.last_line = 0.0
        self.last_text = ""

    def show(self, done: int, total: int, counts: dict[str, int]) -> None:
        filled = int(self.WIDTH * done / total) if total else self.WIDTH
        failed = sum(counts.get(s, 0) for s in ("FAILED", "DEAD", "CANCELLED"))
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} files  failed {failed}"
        if text == self.last_text and (self.tty or time.monotonic() - self.last_line < 5):
            return
        if self.tty:
            self.stream.write("\r" + text)
            self.stream.flush()
        elif time.monotonic() - self.last_line > 5 or done == total:
            self.stream.write(text + "\n")
            self.last_line = time.monotonic()
        self.last_text = text

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
