"""In-process farm pieces for report and dependency tests: a context, a morning window run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from timesheet_batch.context import FarmContext
from timesheet_batch.jobs import kinds, runner, summary
from timesheet_batch.jobs.discovery import discover_window
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.settings import PACKAGED_VENDORS_FILE, Settings
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog


def make_context(tmp_path: Path, database_url: str, **settings) -> FarmContext:
    """A FarmContext on ``database_url`` and local storage under ``tmp_path`` (no environment)."""
    root = tmp_path / "storage"
    root.mkdir(parents=True, exist_ok=True)
    values = {"data_dir": tmp_path, "database_url": database_url, "storage_url": f"file://{root}"} | settings
    return FarmContext(settings=Settings(**values), catalog=load_catalog(PACKAGED_VENDORS_FILE),
                       storage=LocalStorage(root))


def write_sample(ctx: FarmContext, day: dt.date, *, files: int = 6, records: int = 60, bad_ratio: float = 0.05,
                 formats=("csv", "json"), seed: int = 11):
    """Deterministic inbound files for ``day``; the generator's manifest."""
    return generate_sample_files(ctx.storage, ctx.catalog, business_date=day, files=files, records=records,
                                 formats=list(formats), bad_ratio=bad_ratio, seed=seed)


def run_window(ctx: FarmContext, day: dt.date, window: str = "morning") -> str:
    """Discover and run every file of the window here, then summarise it; the batch id."""
    result = discover_window(ctx, window=window, business_date=day)
    for job in result.queued:
        runner.run_job(ctx, kinds.get("PROCESS_FILE"), job_id=job.job_id, worker_id="test")
    summary.summarize_batch(ctx, batch_id=result.batch_id)
    return result.batch_id
