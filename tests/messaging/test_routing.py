"""Task routing: bookkeeping in high, a file in its vendor's queue unless the caller names one."""

from __future__ import annotations

from timesheet_batch.messaging.routing import route_task


def test_a_file_goes_to_its_vendors_queue_and_an_unknown_vendor_to_low():
    assert route_task("timesheet_batch.process_file", ["inbound/2026-11-22/ACME/a.csv"], {}, {}) == {"queue": "high"}
    assert route_task("timesheet_batch.export_file", [], {"key": "processed/2026-11-22/FRESNO/a.parquet"}, {}) == {
        "queue": "low"
    }
    assert route_task("timesheet_batch.process_file", ["inbound/2026-11-22/NOPE/a.csv"], {}, {}) == {"queue": "low"}


def test_a_queue_the_caller_names_is_kept_and_bookkeeping_runs_in_high():
    # Discovery names the job row's queue: the router neither overrides nor parses the key.
    assert route_task("timesheet_batch.process_file", ["not a key"], {}, {"queue": "medium"}) is None
    assert route_task("timesheet_batch.summarize_batch", ["b"], {}, {"queue": "low"}) == {"queue": "high"}
    assert route_task("timesheet_batch.ping", [], {}, {}) is None
