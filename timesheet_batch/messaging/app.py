"""The Celery application (``celery -A timesheet_batch``)."""

from __future__ import annotations

import sys

from celery import Celery

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.messaging import embedded_broker
from timesheet_batch.messaging.beat import beat_schedule

embedded_broker.register()

app = Celery("timesheet_batch", include=["timesheet_batch.messaging.tasks"])
app.config_from_object("celeryconfig")

try:
    app.conf.beat_schedule = beat_schedule()
except ConfigurationError as exc:  # a bad cron setting: say which, exit 2, no traceback
    print(f"timesheet-batch: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
