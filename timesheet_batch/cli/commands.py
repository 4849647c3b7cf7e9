"""The small commands: sample-data, discover, status, queue-status, vendors check, db upgrade."""

from __future__ import annotations

import argparse
import json
import sys

from timesheet_batch.cli import render
from timesheet_batch.context import get_context
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.services import preflight


def business_date_or_today(args: argparse.Namespace):
    from timesheet_batch.tasks import today

    return args.date or today(get_context().settings.timezone)


def cmd_sample_data(args: argparse.Namespace) -> int:
    from timesheet_batch.sample_data import generate_sample_files

    if args.files < 1 or args.records < 0 or not 0 <= args.bad_ratio <= 0.5:
        raise ConfigurationError("sample-data: --files ≥ 1, --records ≥ 0 and 0 ≤ --bad-ratio ≤ 0.5")
    ctx = get_context()
    ctx.storage.check()
    files = generate_sample_files(
        ctx.storage,
        ctx.catalog,
        business_date=business_date_or_today(args),
        files=args.files,
        records=args.records,
        formats=args.formats,
        bad_ratio=args.bad_ratio,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps([vars(f) if hasattr(f, "__dict__") else f for f in files], default=str, indent=2))
    else:
        total = sum(f.records for f in files)
        print(f"wrote {len(files)} file(s), {total:,} record(s) under {ctx.storage.url}/inbound/")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    from timesheet_batch.discovery import discover_window
    from timesheet_batch.dispatch import dispatch_batch

    ctx = get_context()
    preflight(ctx)
    result = discover_window(ctx, window=args.window, business_date=business_date_or_today(args))
    published = dispatch_batch(result)
    if args.json:
        print(json.dumps({"batch_id": result.batch_id, "files": result.total_files, "dispatched": published}))
    else:
        print(result.batch_id)
        print(f"{result.total_files} file(s) in batch, {published} dispatched now", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, broker=False)
    with session_scope(ctx.database_url) as session:
        if not args.id:
            batches = repo.latest_batches(session, limit=10)
            return render.batches(batches, as_json=args.json)
        batch = repo.get_batch(session, batch_id=args.id)
        if batch is not None:
            jobs = repo.batch_jobs(session, batch_id=batch.id)
            return render.batch_detail(batch, jobs, as_json=args.json)
        job = repo.get_job(session, job_id=args.id)
        if job is None:
            raise ConfigurationError(f"no batch or job with id {args.id!r}")
        return render.job_detail(job, as_json=args.json)


def cmd_queue_status(args: argparse.Namespace) -> int:
    from timesheet_batch.queues import queue_depths

    ctx = get_context()
    preflight(ctx)
    depths = queue_depths(ctx)
    if args.json:
        print(json.dumps(depths, indent=2))
    else:
        print(render.queue_table(depths))
    return 0


def cmd_vendors_check(args: argparse.Namespace) -> int:
    from timesheet_batch.vendors import load_catalog

    catalog = load_catalog(args.file)
    print(f"{args.file}: OK, {len(catalog.vendors)} vendor(s), {len(catalog.roles)} role(s)")
    for vendor in catalog.vendors:
        print(f"  {vendor.id:<16} {vendor.priority:<6} {vendor.input.format:>11} -> {vendor.output.format:<11} "
              f"role {vendor.role}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, broker=False)
    print("database schema is up to date")
    return 0
