"""Celery configuration for ``celery -A timesheet_batch``.

Every key is derived from the ``TIMESHEET_*`` settings in
``timesheet_batch.messaging.config.celery_settings``; edit the environment, not this file.
"""

import sys

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.settings import get_settings

try:
    from timesheet_batch.messaging.config import celery_settings

    globals().update(celery_settings(get_settings()))
except ConfigurationError as _exc:  # a bad setting: say which, exit 2, no traceback
    print(f"timesheet-batch: {_exc}", file=sys.stderr)
    raise SystemExit(2) from None
