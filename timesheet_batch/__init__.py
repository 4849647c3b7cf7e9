"""timesheet_batch: a Celery task farm for vendor timesheet files.

``celery -A timesheet_batch`` finds the app through :func:`__getattr__`, so importing the
package (or its pipeline) does not import Celery.
"""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("app", "celery"):
        # Deferred: importing the package (or its pipeline) must not import Celery.
        from timesheet_batch.messaging.app import app

        return app
    raise AttributeError(f"module 'timesheet_batch' has no attribute {name!r}")
