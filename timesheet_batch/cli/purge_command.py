"""``timesheet-batch purge [--older-than 90d] [--dry-run] [--json]``: retention, now.

Removes finished batches and jobs older than the age given (default
``TIMESHEET_RETENTION_DAYS`` days) with their rows and work files; a batch with a job still
queued, running or retrying is never touched (``jobs/retention.py`` says what goes and what
stays). It does not migrate the database: a schema that is not this version's is exit 2.
A real run also removes purged DEAD jobs' parked messages, so it needs the broker; a dry run
needs only the database and storage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re

from timesheet_batch.cli import broker
from timesheet_batch.cli.preflight import preflight
from timesheet_batch.context import ensure_embedded_storage, get_context
from timesheet_batch.jobs import retention

_AGE_RE = re.compile(r"^\s*(\d{1,6})\s*([dh])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours"}
#: The longest age accepted (as TIMESHEET_RETENTION_DAYS: 100 years).
MAX_AGE = dt.timedelta(days=36_500)


def parse_age(value: str) -> dt.timedelta:
    """``90d`` (days) or ``36h`` (hours): a positive whole number and its unit."""
    match = _AGE_RE.match(value)
    age = dt.timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))}) if match else None
    if age is None or not dt.timedelta(0) < age <= MAX_AGE:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an age like 90d or 36h (a whole number of days or hours, 1h to 36500d)")
    return age


def register(sub) -> None:
    """Add the ``purge`` subcommand to the CLI's subparsers."""
    purge = sub.add_parser("purge", help="remove finished batches and jobs older than the retention age")
    purge.add_argument("--older-than", type=parse_age, metavar="AGE",
                       help="age like 90d or 36h (default: TIMESHEET_RETENTION_DAYS days)")
    purge.add_argument("--dry-run", action="store_true", help="count what would go, remove nothing")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(handler=cmd_purge)


def cmd_purge(args: argparse.Namespace) -> int:
    ctx = get_context()
    older_than = args.older_than or dt.timedelta(days=ctx.settings.retention_days)
    # Not migrate=True: the database must answer and already be at this version's schema
    # (exit 2 naming `timesheet-batch db upgrade` otherwise); nothing is migrated.
    preflight(ctx, broker=not args.dry_run, migrate=False)
    ensure_embedded_storage(ctx.settings)
    ctx.storage.check()
    publisher = None if args.dry_run else broker.publisher()
    report = retention.purge(ctx, older_than=older_than, dry_run=args.dry_run, publisher=publisher)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    verb = "would remove" if report.dry_run else "removed"
    print(f"{verb} what finished before {report.cutoff} (older than {_age(older_than)}):")
    for label, count in (
        ("batches", report.batches),
        ("jobs", report.jobs),
        ("  of them without a batch", report.adhoc_jobs),
        ("job errors", report.job_errors),
        ("report runs", report.report_runs),
        ("job dependencies", report.job_dependencies),
        ("staging files", report.staging_files),
        ("parked dead-letter messages", report.parked_messages),
    ):
        print(f"  {label:<28} {count:>8,}")
    if report.kept_batches:
        print(f"kept {report.kept_batches} older batch(es) with a job unfinished or finished since")
    return 0


def _age(age: dt.timedelta) -> str:
    return f"{age.days}d" if age % dt.timedelta(days=1) == dt.timedelta(0) else f"{age // dt.timedelta(hours=1)}h"
