"""The Celery application (``celery -A timesheet_batch``)."""

from __future__ import annotations

from celery import Celery

from timesheet_batch import embedded_broker

embedded_broker.register()

app = Celery("timesheet_batch", include=["timesheet_batch.tasks", "timesheet_batch.report_tasks"])
app.config_from_object("celeryconfig")

from timesheet_batch.errors import ConfigurationError  # noqa: E402
from timesheet_batch.schedule import beat_schedule  # noqa: E402

try:
    app.conf.beat_schedule = beat_schedule()
except ConfigurationError as exc:  # a bad cron setting: say which, exit 2, no traceback
    import sys

    print(f"timesheet-batch: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
