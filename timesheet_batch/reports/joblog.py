"""What reports take from ``batch_job_log``: reject rates and failures per vendor, reconciliation.

Counts only: file keys, vendors and numbers, never record contents. Only jobs of a window
batch are counted (an ad hoc re-run of a file would otherwise count it twice).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from timesheet_batch.db.models import BatchJob
from timesheet_batch.reports.periods import Period
from timesheet_batch.states import JobStatus, JobType
from timesheet_batch.vendors import VendorCatalog

_BAD = {JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED}


def _in_period(period: Period):
    return (BatchJob.business_date >= period.start, BatchJob.business_date <= period.end,
            BatchJob.batch_id.is_not(None))


def vendor_exceptions(session: Session, period: Period, catalog: VendorCatalog) -> list[dict]:
    """Per vendor: files, failed files, records read / rejected, reject rate, and whether flagged.

    A vendor is flagged when a file failed, died or was cancelled, or when its reject rate is
    over its ``max_reject_ratio``.
    """
    rows = session.execute(
        select(BatchJob.vendor_id, BatchJob.status, func.count(),
               func.coalesce(func.sum(BatchJob.records_read), 0),
               func.coalesce(func.sum(BatchJob.records_rejected), 0))
        .where(BatchJob.report_type == JobType.PROCESS_FILE, *_in_period(period))
        .group_by(BatchJob.vendor_id, BatchJob.status)
    ).all()
    vendors: dict[str, dict] = {}
    for vendor_id, status, files, read, rejected in rows:
        entry = vendors.setdefault(vendor_id or "(unknown)", {"files": 0, "files_failed": 0,
                                                             "records_read": 0, "records_rejected": 0})
        entry["files"] += files
        entry["files_failed"] += files if status in _BAD else 0
        entry["records_read"] += int(read)
        entry["records_rejected"] += int(rejected)
    return [_with_rate(vendor_id, entry, catalog) for vendor_id, entry in sorted(vendors.items())]


def _with_rate(vendor_id: str, entry: dict, catalog: VendorCatalog) -> dict:
    rate = entry["records_rejected"] / entry["records_read"] if entry["records_read"] else 0.0
    limit = next((v.max_reject_ratio for v in catalog.vendors if v.id == vendor_id), None)
    flagged = entry["files_failed"] > 0 or (limit is not None and rate > limit)
    return {"vendor_id": vendor_id, **entry, "reject_rate": round(rate, 4), "max_reject_ratio": limit,
            "flagged": flagged}


def reconciliation(session: Session, period: Period) -> list[dict]:
    """Per vendor: records written by the morning window vs records exported by the nightly one."""
    rows = session.execute(
        select(BatchJob.vendor_id, BatchJob.report_type, func.coalesce(func.sum(BatchJob.records_processed), 0))
        .where(BatchJob.report_type.in_([JobType.PROCESS_FILE, JobType.EXPORT_FILE]),
               BatchJob.status == JobStatus.COMPLETED, *_in_period(period))
        .group_by(BatchJob.vendor_id, BatchJob.report_type)
    ).all()
    vendors: dict[str, dict] = {}
    for vendor_id, job_type, written in rows:
        entry = vendors.setdefault(vendor_id or "(unknown)", {"processed": 0, "exported": 0})
        entry["processed" if job_type == JobType.PROCESS_FILE else "exported"] += int(written)
    return [{"vendor_id": v, **e, "balanced": e["processed"] == e["exported"]} for v, e in sorted(vendors.items())]
