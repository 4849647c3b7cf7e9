"""Publishing a batch: one chord of file tasks, each in its vendor's queue, then the summary.

Messages carry a storage key and a job id only; everything else is read from the database
by the worker, so the broker never holds record contents or personal data.
"""

from __future__ import annotations

import logging

from celery import chord

from timesheet_batch.db.repository import QueuedJob
from timesheet_batch.discovery import DiscoveryResult
from timesheet_batch.job_types import task_name_for

log = logging.getLogger(__name__)


def dispatch_batch(result: DiscoveryResult) -> int:
    """Publish the jobs discovery queued; returns how many were published."""
    from timesheet_batch.tasks import summarize_batch

    callback = summarize_batch.si(result.batch_id).set(queue="high")
    if not result.queued:
        if result.summary_due:
            callback.apply_async()
        return 0
    header = [_signature(job) for job in result.queued]
    chord(header)(callback)
    log.info("batch %s: dispatched %d file task(s)", result.batch_id, len(header))
    return len(header)


def _signature(job: QueuedJob):
    from timesheet_batch.celery_app import app

    return app.signature(task_name_for(job.job_type), args=(job.input_key,), kwargs={"job_id": job.job_id},
                         queue=job.priority, immutable=True)


def publish_job(job: QueuedJob) -> None:
    """Publish one job on its own (sweeper, replay): not part of any chord."""
    _signature(job).apply_async()
