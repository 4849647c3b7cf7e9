"""The inbound file kind (``PROCESS_FILE``): parse, validate, map and store one vendor file.

The morning window discovers one job per file under ``inbound/{date}/``; each runs the
inbound pipeline in chunks, resuming from its checkpoint after a crash.
"""

from __future__ import annotations

from timesheet_batch import pipeline
from timesheet_batch.jobs.kinds import JobResult, JobRun
from timesheet_batch.kinds.files import business_date_of, file_kind
from timesheet_batch.states import JobType, Window
from timesheet_batch.storage import layout


def run(job_run: JobRun) -> JobResult:
    ctx, job = job_run.ctx, job_run.job
    checkpoint = pipeline.ChunkCheckpoint(ctx.storage, job_id=job.job_id, content=job.content_fingerprint,
                                 may_resume=job_run.may_resume)
    vendor = ctx.catalog.get(job.vendor_id or layout.parse_file_key(job.input_file_path).vendor_id)
    # Looked up on the module at run time, so a test plugin can wrap it in a worker process.
    outcome = pipeline.process_inbound_file(
        storage=ctx.storage, vendor=vendor, key=job.input_file_path, business_date=business_date_of(job),
        chunk_size=ctx.settings.chunk_size, on_chunk=job_run.on_chunk, checkpoint=checkpoint,
    )
    return JobResult(outcome.records_read, outcome.records_written, outcome.records_rejected,
                     outcome.output_key, outcome.rejects_key)


KIND = file_kind(
    name=JobType.PROCESS_FILE, task_name="timesheet_batch.process_file",
    description="Parse, validate, map and store one inbound file (inbound/{date}/{vendor}/{file}).",
    area=layout.INBOUND, window=Window.MORNING, profile_side="input", list_prefix=layout.inbound_prefix, run=run,
)
