"""Submitting one job of any kind: validate its parameters, record it, publish its message.

The parameters are checked by the kind's model before anything is recorded or queued. The
row is written first: a message that cannot be published (broker down) leaves a QUEUED job
that the sweeper publishes later, so nothing is lost between the two.
"""

from __future__ import annotations

from typing import Any

from timesheet_batch.context import FarmContext
from timesheet_batch.jobs import kinds
from timesheet_batch.jobs.kinds import Submission
from timesheet_batch.jobs.publisher import Publisher


def submit(ctx: FarmContext, *, kind: str, params: Any, publisher: Publisher) -> Submission:
    """Record a job of ``kind`` with ``params`` (a dict or the kind's model) and publish it."""
    job_kind = kinds.get(kind)
    submission = job_kind.create(ctx, job_kind.validate(params, ctx))
    if submission.publish and submission.queued is not None:
        publisher.publish(submission.queued)
    return submission
