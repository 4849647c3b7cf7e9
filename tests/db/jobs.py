"""Job rows for the database tests."""

from __future__ import annotations

import datetime as dt

from timesheet_batch.db import repository as repo
from timesheet_batch.states import JobType

DAY = dt.date(2026, 11, 20)
CLAIM = {"lease_s": 30.0, "max_attempts": 4}


def new_jobs(n: int, prefix: str = "a") -> list[repo.NewJob]:
    """``n`` ACME inbound files of DAY as discovery describes them."""
    return [
        repo.NewJob(JobType.PROCESS_FILE, f"inbound/2026-11-20/ACME/{prefix}{i}.csv", "ACME", "high", "csv", "VENDOR")
        for i in range(n)
    ]
