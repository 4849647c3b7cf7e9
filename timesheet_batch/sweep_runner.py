"""One sweep with the farm's real publishers (used by the beat task, ``sweep`` and ``run``)."""

from __future__ import annotations

import functools

from timesheet_batch.context import FarmContext
from timesheet_batch.sweeper import SweepReport, sweep


def sweep_once(ctx: FarmContext) -> SweepReport:
    """Sweep now: re-dispatch lost work, park dead jobs, fire lost summaries and their dependents."""
    from timesheet_batch.celery_app import app
    from timesheet_batch.dead_letter import park_job
    from timesheet_batch.dispatch import publish_job
    from timesheet_batch.queues import broker_depths
    from timesheet_batch.report_tasks import fire_after_batch, publish_report

    return sweep(
        ctx,
        publish=publish_job,
        queue_depths=broker_depths(),
        park=functools.partial(park_job, app),
        after_summary=fire_after_batch,
        publish_report=publish_report,
    )
