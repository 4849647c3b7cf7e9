"""The export file kind (``EXPORT_FILE``): write one processed file as the vendor's outbound
file, masked for the vendor's role.

The nightly window discovers one job per Parquet file under ``processed/{date}/``.
"""

from __future__ import annotations

from timesheet_batch import pipeline
from timesheet_batch.jobs.kinds import JobResult, JobRun
from timesheet_batch.kinds.files import business_date_of, file_kind
from timesheet_batch.states import JobType, Window
from timesheet_batch.storage import layout


def run(job_run: JobRun) -> JobResult:
    ctx, job = job_run.ctx, job_run.job
    vendor = ctx.catalog.get(job.vendor_id or layout.parse_file_key(job.input_file_path).vendor_id)
    outcome = pipeline.export_processed_file(
        storage=ctx.storage, vendor=vendor, policy=ctx.catalog.masking_for(vendor.role),
        masking_key=ctx.masking_key, processed_key=job.input_file_path, business_date=business_date_of(job),
        chunk_size=ctx.settings.chunk_size, on_chunk=job_run.on_chunk,
    )
    return JobResult(outcome.records_read, outcome.records_written, outcome.records_rejected,
                     outcome.output_key, outcome.rejects_key)


KIND = file_kind(
    name=JobType.EXPORT_FILE, task_name="timesheet_batch.export_file",
    description="Write one processed file as the vendor's outbound file, masked for the vendor's role.",
    area=layout.PROCESSED, window=Window.NIGHTLY, profile_side="output", list_prefix=layout.processed_prefix,
    run=run, suffix=layout.PROCESSED_SUFFIX,
)
