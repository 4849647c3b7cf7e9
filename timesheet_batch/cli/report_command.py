"""``timesheet-batch report`` (one report, ad hoc) and ``timesheet-batch tree`` (dependency tree).

``report`` runs in this process by default — no worker needed, the embedded default works —
and so do the dependents it fires (a DAILY_REPORT brings its DAILY_SUMMARY); ``--enqueue``
sends it to the workers instead and waits. Either way the job lands in the same tables as a
scheduled one, and asking again for a report that exists returns it (a failed one reruns).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from timesheet_batch.cli import broker
from timesheet_batch.cli.dates import parse_date
from timesheet_batch.cli.preflight import preflight
from timesheet_batch.context import FarmContext, get_context
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import ConfigurationError, WaitFailedError
from timesheet_batch.jobs.outage import OutageRider
from timesheet_batch.kinds import report as report_kind
from timesheet_batch.reports.jobs import check_role, report_roles
from timesheet_batch.reports.periods import ReportType
from timesheet_batch.reports.tree import build_tree, render_tree
from timesheet_batch.states import TERMINAL_JOB_STATES, JobStatus


def register(sub) -> None:
    """Add the ``report`` and ``tree`` subcommands to the CLI's subparsers."""
    report = sub.add_parser("report", help="generate one report now (ad hoc)")
    report.add_argument("--type", required=True, choices=[t.value for t in ReportType], dest="report_type")
    report.add_argument("--date", type=parse_date, help="a day inside the period (default: yesterday)")
    report.add_argument("--role", help="role to mask for: one of the vendor file's roles, spelled as there "
                                       "(default: the first of TIMESHEET_REPORT_ROLES)")
    report.add_argument("--enqueue", action="store_true", help="run it on the workers and wait")
    report.add_argument("--timeout", type=float, default=600, metavar="S", help="with --enqueue: wait S seconds")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=cmd_report)

    tree = sub.add_parser("tree", help="the dependency tree of a batch or job")
    tree.add_argument("id", help="a batch id or a job id")
    tree.add_argument("--json", action="store_true")
    tree.set_defaults(handler=cmd_tree)


def cmd_report(args: argparse.Namespace) -> int:
    ctx = get_context()
    if args.role is not None:  # a user's mistake, named before any service is asked
        check_role(args.role, ctx.catalog.roles, what="--role")
    preflight(ctx, broker=args.enqueue)
    role = args.role or report_roles(ctx.settings)[0]
    ref = report_kind.request_report(ctx, report_type_name=args.report_type, role=role, day=args.date)
    if args.enqueue:
        if ref.publish or ref.status in (JobStatus.QUEUED, JobStatus.RETRYING):
            # a second message is harmless: the claim is fenced
            broker.publisher().publish(report_kind.queued(ref.job_id))
        _wait(ctx, ref.job_id, args.timeout)
    else:
        _run_here(ctx, ref.job_id)
    return _print_job(ctx, ref.job_id, as_json=args.json)


def _run_here(ctx: FarmContext, job_id: str) -> None:
    """Run the job and, depth first, every dependent it fires, in this process."""
    pending = [job_id]
    while pending:
        current = pending.pop()
        report_kind.run_report(ctx, job_id=current, worker_id="cli", publish=pending.append)


def _wait(ctx: FarmContext, job_id: str, timeout_s: float) -> None:
    """Until the job is finished; through a database outage of up to TIMESHEET_OUTAGE_TOLERANCE_S."""
    rider = OutageRider(ctx.settings.outage_tolerance_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if rider.call(lambda: _job_status(ctx, job_id), what="watching the report job (database)") \
                in TERMINAL_JOB_STATES:
            return
        time.sleep(0.2)
    raise WaitFailedError(f"report job {job_id} did not finish within {timeout_s:.0f}s (are workers running?)")


def _job_status(ctx: FarmContext, job_id: str) -> str:
    with session_scope(ctx.database_url) as session:
        return repo.get_job(session, job_id=job_id).status


def _print_job(ctx: FarmContext, job_id: str, *, as_json: bool) -> int:
    return OutageRider(ctx.settings.outage_tolerance_s).call(
        lambda: _show_job(ctx, job_id, as_json=as_json), what="reading the report job (database)")


def _show_job(ctx: FarmContext, job_id: str, *, as_json: bool) -> int:
    with session_scope(ctx.database_url) as session:
        job = repo.get_job(session, job_id=job_id)
        data = {"job_id": job.job_id, "report_type": job.report_type, "role": job.role, "status": job.status,
                "business_date": job.business_date.isoformat(), "records": job.records_processed,
                "output_file_path": job.output_file_path, "error": job.error_message}
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print(f"{data['report_type']} {data['role']} {data['business_date']}: {data['status']}  {job_id}")
        print(f"  {data['output_file_path'] or data['error']}", file=sys.stderr)
    return 0 if data["status"] == JobStatus.COMPLETED else 1


def cmd_tree(args: argparse.Namespace) -> int:
    ctx = get_context()
    preflight(ctx, broker=False, migrate=False)
    with session_scope(ctx.database_url) as session:
        root = build_tree(session, root_id=args.id)
        if root is None:
            raise ConfigurationError(f"no batch or job with id {args.id!r}")
    print(json.dumps(root.as_dict(), indent=2) if args.json else render_tree(root))
    return 0
