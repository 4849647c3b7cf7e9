"""Graceful shutdown: a worker told to stop hands back the file it cannot finish in time.

On SIGTERM Celery's warm shutdown lets running tasks finish. The worker's main process
records a deadline (now + ``TIMESHEET_SHUTDOWN_GRACE_S``) in a marker file named after
its pid; a pool process checks it at every chunk boundary (a stat call) and, once the
deadline has passed, hands its job back to the queue instead of holding the shutdown up.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def _marker(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"timesheet-batch-shutdown-{pid}"


def request_shutdown(*, grace_s: float) -> None:
    """Called in the worker's main process when a warm shutdown starts."""
    _marker(os.getpid()).write_text(str(time.time() + grace_s))


def clear() -> None:
    """Called when the worker has stopped."""
    _marker(os.getpid()).unlink(missing_ok=True)


def hand_back_due() -> bool:
    """Whether this process's worker is shutting down and its grace period is over.

    A prefork pool process looks at its parent's marker; a solo pool at its own.
    """
    for pid in (os.getppid(), os.getpid()):
        try:
            deadline = float(_marker(pid).read_text())
        except (OSError, ValueError):
            continue
        return time.time() >= deadline
    return False
