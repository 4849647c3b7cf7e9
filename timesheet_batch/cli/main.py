"""``timesheet-batch``: argument parsing and the mapping of errors to exit codes.

Exit codes: 0 all files completed; 1 a file failed, died or was cancelled; 2 usage or
configuration error; 3 a required service is unreachable. A user's mistake never prints
a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from timesheet_batch.cli import commands, purge_command, report_command, run_command
from timesheet_batch.cli.dates import parse_date as _date
from timesheet_batch.errors import TimesheetBatchError
from timesheet_batch.logsafe import safe_lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="timesheet-batch", description="Vendor timesheet task farm.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a window (default: morning then nightly) to the end")
    run.add_argument("--window", choices=["morning", "nightly"], help="one window only")
    run.add_argument("--date", type=_date, help="business date (default: today in TIMESHEET_TIMEZONE)")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="local worker processes (default: CPU count; 0: rely on running workers)")
    run.add_argument("--sample", action="store_true", help="generate sample inbound files first")
    run.add_argument("--timeout", type=float, default=6 * 3600, metavar="S", help="give up after S seconds")
    run.add_argument("--json", action="store_true", help="print the summaries as JSON")
    run.set_defaults(handler=run_command.cmd_run)

    sample = sub.add_parser("sample-data", help="write deterministic sample inbound files")
    sample.add_argument("--date", type=_date, help="business date (default: today)")
    sample.add_argument("--files", type=int, default=24)
    sample.add_argument("--records", type=int, default=1000)
    sample.add_argument("--formats", nargs="+", metavar="FORMAT", help="input formats to include")
    sample.add_argument("--bad-ratio", type=float, default=0.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--json", action="store_true")
    sample.set_defaults(handler=commands.cmd_sample_data)

    discover = sub.add_parser("discover", help="enqueue a window and print its batch id")
    discover.add_argument("--window", choices=["morning", "nightly"], required=True)
    discover.add_argument("--date", type=_date)
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(handler=commands.cmd_discover)

    submit = sub.add_parser("submit", help="submit one job of any registered kind; print its id")
    submit.add_argument("kind", help="a job kind (PROCESS_FILE, EXPORT_FILE, REPORT, or one of TIMESHEET_JOB_KINDS)")
    submit.add_argument("--params", default="{}", metavar="JSON",
                        help='the kind\'s parameters, e.g. \'{"key": "inbound/2026-11-22/ACME/a.csv"}\'')
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(handler=commands.cmd_submit)

    status = sub.add_parser("status", help="batch or job state (latest batches without ID)")
    status.add_argument("id", nargs="?", help="a batch id or a job id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=commands.cmd_status)

    queues = sub.add_parser("queue-status", help="queue depths per priority")
    queues.add_argument("--json", action="store_true")
    queues.set_defaults(handler=commands.cmd_queue_status)

    vendors = sub.add_parser("vendors", help="vendor file tools")
    vendors_sub = vendors.add_subparsers(dest="vendors_command", required=True, metavar="ACTION")
    check = vendors_sub.add_parser("check", help="validate a vendor file")
    check.add_argument("file")
    check.set_defaults(handler=commands.cmd_vendors_check)

    cancel = sub.add_parser("cancel", help="cancel a job or every unfinished job of a batch")
    cancel.add_argument("id", help="a batch id or a job id")
    cancel.set_defaults(handler=commands.cmd_cancel)

    dead = sub.add_parser("dead-letter", help="jobs parked DEAD after their retries")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True, metavar="ACTION")
    dead_list = dead_sub.add_parser("list", help="DEAD jobs with their error history")
    dead_list.add_argument("--json", action="store_true")
    dead_list.set_defaults(handler=commands.cmd_dead_letter_list)
    replay = dead_sub.add_parser("replay", help="queue DEAD jobs again")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="a DEAD job's id")
    which.add_argument("--all", action="store_true", help="every DEAD job")
    replay.set_defaults(handler=commands.cmd_dead_letter_replay)

    sweep = sub.add_parser("sweep", help="re-dispatch lost work and fire lost summaries now")
    sweep.add_argument("--json", action="store_true")
    sweep.set_defaults(handler=commands.cmd_sweep)

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (run before starting workers)")
    upgrade.set_defaults(handler=commands.cmd_db_upgrade)
    report_command.register(sub)
    purge_command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``timesheet-batch``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except TimesheetBatchError as exc:
        print(f"timesheet-batch: {safe_lines(exc)}", file=sys.stderr)  # no user input forges a line
        return exc.exit_code
    except KeyboardInterrupt:
        print("timesheet-batch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        _close_connections()


def _close_connections() -> None:
    """Close broker and result connections before the interpreter tears modules down."""
    if "timesheet_batch.messaging.app" in sys.modules:
        # Deferred: only a command that used the broker loaded the app; others must not start it.
        from timesheet_batch.messaging.app import app

        # Chord results subscribe to Redis pub/sub in the publisher; drop the subscriptions
        # now, or their finalizers try to unsubscribe on a dead connection at exit.
        consumer = getattr(app.backend, "result_consumer", None)
        if consumer is not None and hasattr(consumer, "subscribed_to"):
            consumer.subscribed_to.clear()
            consumer.stop()
        app.close()


if __name__ == "__main__":
    sys.exit(main())
