"""A job kind defined by the test suite alone: the SHA-256 of one stored file.

It proves that a kind is one module plus one registry entry: the farm's own code knows
nothing of it. Workers and commands load it through ``TIMESHEET_JOB_KINDS=tests.jobs.checksum_kind``.
The digest goes to ``checksums/{key}.sha256``.

Two files in the folder ``TSB_CHECKSUM_CONTROL_DIR`` names, read when a job runs, let a test
hold a job up or fail it while one worker keeps running: ``delay`` holds the seconds to sleep
after each 64 KiB chunk (time to cancel it); while ``down`` exists, a run fails with a transient
error (the checksum store "is unreachable"), so its retries run out and the job is DEAD.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from timesheet_batch.context import FarmContext
from timesheet_batch.db import repository as repo
from timesheet_batch.db.engine import session_scope
from timesheet_batch.errors import UnsafeKeyError
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.kinds import JobKind, JobResult, JobRun, Submission
from timesheet_batch.pipeline import ChunkProgress
from timesheet_batch.storage import layout

NAME = "CHECKSUM"
QUEUE = "low"
CHUNK_BYTES = 64 * 1024


class ChecksumParams(BaseModel):
    """The stored file to checksum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=500)

    @field_validator("key")
    @classmethod
    def _safe(cls, value: str) -> str:
        try:
            return layout.safe_key(value)
        except UnsafeKeyError as exc:
            raise ValueError(str(exc)) from None


def create(ctx: FarmContext, params: ChecksumParams) -> Submission:
    job = repo.NewJob(NAME, params.key, None, QUEUE, None, None)
    with session_scope(ctx.database_url) as session:
        row = repo.add_adhoc_job(session, job=job, business_date=dt.date.today())
        return Submission(row.job_id, publish=True, queued=repo.QueuedJob(row.job_id, params.key, QUEUE, NAME))


def run(job_run: JobRun) -> JobResult:
    control = Path(os.environ.get("TSB_CHECKSUM_CONTROL_DIR", "/nonexistent"))
    if (control / "down").exists():
        raise ConnectionError("checksum store unreachable")
    delay_s = float((control / "delay").read_text()) if (control / "delay").exists() else 0.0
    key = job_run.job.input_file_path
    digest, size, index = hashlib.sha256(), 0, 0
    with job_run.ctx.storage.open_read(key) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            job_run.on_chunk(ChunkProgress(index, size, 0))
            index += 1
            time.sleep(delay_s)
    job_run.on_chunk(ChunkProgress(max(index - 1, 0), size, 0, final=True))
    output_key = f"checksums/{key}.sha256"
    job_run.ctx.storage.write_bytes(output_key, f"{digest.hexdigest()}  {key}\n".encode())
    return JobResult(records_read=size, records_written=1, output_key=output_key)


KIND = kinds.register(JobKind(
    name=NAME, task_name="tests.checksum_file", description="The SHA-256 of one stored file.",
    params=ChecksumParams, create=create, run=run, queue=QUEUE,
))
