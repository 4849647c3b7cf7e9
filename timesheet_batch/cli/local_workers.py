"""Local worker processes for ``timesheet-batch run`` (and tests): real ``celery worker``s.

The same command operators run by hand; only the process management is ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class LocalWorkers:
    """One ``celery -A timesheet_batch worker`` with ``concurrency`` prefork processes."""

    def __init__(self, *, concurrency: int, log_path: Path, queues: str = "high,medium,low",
                 env: dict[str, str] | None = None, name: str | None = None):
        self.concurrency = concurrency
        self.log_path = log_path
        self.queues = queues
        self.env = env
        self.name = name or f"local-{os.getpid()}"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "timesheet_batch", "worker",
            "-Q", self.queues, "-c", str(self.concurrency), "-n", f"{self.name}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        ]

    def start(self) -> LocalWorkers:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True,
            )
        finally:
            log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, grace_s: float = 30.0) -> None:
        """Warm shutdown (SIGTERM: finish current tasks), then kill what is left."""
        if self.process is None:
            return
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_s)
        # Pool children outlive a killed main process: end the whole process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> LocalWorkers:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(predicate, *, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())
