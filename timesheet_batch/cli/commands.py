"""The small commands: sample-data, discover, submit, status, queue-status, vendors check, db upgrade,
cancel, dead-letter, sweep."""

from __future__ import annotations

import argparse
import json
import sys

from timesheet_batch.cli import broker, render
from timesheet_batch.cli.preflight import apply_migrations, preflight
from timesheet_batch.context import ensure_embedded_storage, get_context
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import check_database, session_scope
from timesheet_batch.db.migrate import current_revision
from timesheet_batch.errors import ConfigurationError
from timesheet_batch.jobs import cancellation, dead_letter, queues
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.jobs.submit import submit
from timesheet_batch.logsafe import safe
from timesheet_batch.reports.tree import build_tree, render_tree
from timesheet_batch.settings import get_settings
from timesheet_batch.vendors import load_catalog


def business_date_or_today(args: argparse.Namespace):
    return args.date or get_context().settings.today()


def cmd_sample_data(args: argparse.Namespace) -> int:
    # Deferred: the sample writer brings pyarrow and every format writer (~0.5 s to import).
    from timesheet_batch.sample_data import generate_sample_files

    if args.files < 1 or args.records < 0 or not 0 <= args.bad_ratio <= 0.5:
        raise ConfigurationError("sample-data: --files ≥ 1, --records ≥ 0 and 0 ≤ --bad-ratio ≤ 0.5")
    ctx = get_context()
    ensure_embedded_storage(ctx.settings)
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
    ctx = get_context()
    preflight(ctx)
    result = discover_window(ctx, window=args.window, business_date=business_date_or_today(args))
    published = broker.dispatch_batch(result)
    if args.json:
        print(json.dumps({"batch_id": result.batch_id, "files": result.total_files, "dispatched": published}))
    else:
        print(result.batch_id)
        print(f"{result.total_files} file(s) in batch, {published} dispatched now", file=sys.stderr)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"--params is not JSON: {exc.msg} at character {exc.pos}") from None
    ctx = get_context()
    preflight(ctx)
    submission = submit(ctx, kind=args.kind, params=params, publisher=broker.publisher())
    if args.json:
        print(json.dumps({"job_id": submission.job_id, "kind": args.kind, "published": submission.publish}))
    else:
        print(submission.job_id)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, broker=False, migrate=False)
    with session_scope(ctx.database_url) as session:
        if not args.id:
            batches = repo.latest_batches(session, limit=10)
            return render.batches(batches, as_json=args.json)
        batch = repo.get_batch(session, batch_id=args.id)
        if batch is not None:
            render.batch_detail(batch, repo.batch_jobs(session, batch_id=batch.id), as_json=args.json)
        else:
            job = repo.get_job(session, job_id=args.id)
            if job is None:
                raise ConfigurationError(f"no batch or job with id {args.id!r}")
            render.job_detail(job, as_json=args.json)
        if not args.json:
            _print_dependents(session, args.id)
        return 0


def _print_dependents(session, root_id: str) -> None:
    """The jobs this batch or job fired (dependency rules), as a tree."""
    tree = build_tree(session, root_id=root_id)
    if tree is not None and tree.children:
        print("dependents:\n" + render_tree(tree))


def cmd_queue_status(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, migrate=False)
    depths = queues.queue_depths(ctx, broker.publisher())
    if args.json:
        print(json.dumps(depths, indent=2))
    else:
        print(render.queue_table(depths))
    return 0


def cmd_vendors_check(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.file)
    print(f"{safe(args.file)}: OK, {len(catalog.vendors)} vendor(s), {len(catalog.roles)} role(s)")
    for vendor in catalog.vendors:
        print(f"  {vendor.id:<16} {vendor.priority:<6} {vendor.input.format:>11} -> {vendor.output.format:<11} "
              f"role {vendor.role}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = get_settings()  # the database alone: no storage, broker or vendor file needed
    url = settings.effective_database_url
    check_database(url, timeout_s=settings.service_timeout_s)
    before = current_revision(url)
    apply_migrations(url)
    after = current_revision(url)
    if before == after:
        print(f"database schema already at {after}: nothing to do")
    else:
        print(f"database schema upgraded from {before or '(empty)'} to {after}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, broker=False)
    result = cancellation.cancel(ctx, target_id=args.id)
    print(f"cancelled {result.cancelled} job(s)")
    return 0


def cmd_dead_letter_list(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, migrate=False)
    dead = dead_letter.list_dead(ctx)
    parked = broker.publisher().dead_queue_depth()
    if args.json:
        print(json.dumps({"messages": parked, "jobs": [vars(d) for d in dead]}, indent=2))
        return 0
    print(f"{len(dead)} DEAD job(s), {parked} message(s) in the dead-letter queue")
    for job in dead:
        print(f"  {job.job_id}  {job.kind}  {safe(job.input_file_path or '')}  attempts {job.attempts}")
        for line in job.errors:
            print(f"      {safe(line)}")
    return 0


def cmd_dead_letter_replay(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx)
    replayed = dead_letter.replay(ctx, broker.publisher(), job_ids=None if args.all else [args.id])
    if not args.all and not replayed:
        raise ConfigurationError(f"no DEAD job with id {args.id!r}")
    print(f"replayed {len(replayed)} job(s)")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx)
    report = broker.sweep_once()
    if args.json:
        print(json.dumps(vars(report), indent=2))
    else:
        print(f"expired leases {len(report.expired)}, lost messages {len(report.redispatched)}, "
              f"dead {len(report.dead)}, summaries fired {len(report.summarized)}")
    return 0
