"""The job types the farm runs: each is a pipeline, the task that runs it, and its side of
the vendor profile. New job types (reports, name screening) register here.

The task is named, not imported, so this module (and everything below the task layer)
never imports Celery.
"""

from __future__ import annotations

from dataclasses import dataclass

from timesheet_batch.states import JobType


@dataclass(frozen=True)
class FileJobType:
    """A job type that processes one stored file."""

    name: str
    task_name: str
    #: Which side of the vendor profile describes the file: "input" or "output".
    profile_side: str


FILE_JOB_TYPES: dict[str, FileJobType] = {
    JobType.PROCESS_FILE: FileJobType(JobType.PROCESS_FILE, "timesheet_batch.process_file", "input"),
    JobType.EXPORT_FILE: FileJobType(JobType.EXPORT_FILE, "timesheet_batch.export_file", "output"),
}


def task_name_for(job_type: str) -> str:
    """The Celery task name that runs ``job_type``."""
    return FILE_JOB_TYPES[job_type].task_name
