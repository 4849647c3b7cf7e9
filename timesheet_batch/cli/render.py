"""Plain-text and JSON rendering of batches, jobs and queues for the CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence

from timesheet_batch.db.models import Batch, BatchJob
from timesheet_batch.logsafe import safe

_BATCH_FIELDS = (
    "id", "correlation_id", "window", "business_date", "status", "total_files", "files_completed",
    "files_failed", "files_dead", "files_cancelled", "records_read", "records_written",
    "records_rejected", "duration_ms", "summary_key", "created_at", "finished_at",
)
_JOB_FIELDS = (
    "job_id", "report_type", "vendor_id", "priority", "status", "input_file_path", "output_file_path",
    "rejects_file_path", "records_read", "records_processed", "records_rejected", "chunks_done",
    "retry_count", "error_message", "worker_id", "started_at", "completed_at", "processing_time_ms",
)


def _row(obj, fields: Sequence[str]) -> dict:
    out = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def batch_dict(batch: Batch) -> dict:
    return _row(batch, _BATCH_FIELDS)


def job_dict(job: BatchJob) -> dict:
    return _row(job, _JOB_FIELDS)


def batches(rows: Sequence[Batch], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps([batch_dict(b) for b in rows], indent=2))
        return 0
    if not rows:
        print("no batches yet")
        return 0
    print(f"{'batch id':<36}  {'window':<8} {'date':<10} {'status':<9} {'files':>6} {'ok':>6} {'failed':>6}")
    for b in rows:
        failed = (b.files_failed or 0) + (b.files_dead or 0) + (b.files_cancelled or 0)
        print(f"{b.id:<36}  {b.window:<8} {b.business_date.isoformat():<10} {b.status:<9} "
              f"{b.total_files:>6} {b.files_completed:>6} {failed:>6}")
    return 0


def batch_detail(batch: Batch, jobs: Sequence[BatchJob], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"batch": batch_dict(batch), "jobs": [job_dict(j) for j in jobs]}, indent=2))
        return 0
    print(f"batch {batch.id} ({batch.correlation_id}): {batch.status}")
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    print("  jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"  records read {batch.records_read:,} written {batch.records_written:,} "
          f"rejected {batch.records_rejected:,}")
    for job in jobs:
        progress = f"{job.records_read or 0:>8,} read"
        line = f"  {job.job_id}  {job.priority or '-':<6} {job.status:<10} {progress}  {safe(job.input_file_path)}"
        if job.error_message:
            line += f"\n      reason: {safe(job.error_message)}"
        print(line)
    return 0


def job_detail(job: BatchJob, *, as_json: bool) -> int:
    data = job_dict(job)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:>18}: {safe(value)}")  # keys and errors come from outside
    return 0


def queue_table(depths: dict[str, dict[str, int]]) -> str:
    lines = [f"{'queue':<8} {'messages':>9} {'queued':>7} {'running':>8} {'retrying':>9}"]
    for name, d in depths.items():
        lines.append(f"{name:<8} {d['messages']:>9} {d['queued']:>7} {d['processing']:>8} {d['retrying']:>9}")
    return "\n".join(lines)
