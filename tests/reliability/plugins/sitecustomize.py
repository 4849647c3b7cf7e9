"""Fault injection for worker processes (on PYTHONPATH only in reliability tests).

``TSB_POISON_SUBSTRING``: a pool process that starts processing a file whose key holds
this text kills itself with SIGKILL, after the job was claimed — a poison file that
crashes its worker every time, as a segfaulting parser would.
"""

import os

_POISON = os.environ.get("TSB_POISON_SUBSTRING")

if _POISON:
    from celery import signals

    @signals.worker_process_init.connect
    def _arm(**_):
        import signal

        from timesheet_batch import pipeline

        real = pipeline.process_inbound_file

        def crashing(*, key, **kwargs):
            if _POISON in key:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(key=key, **kwargs)

        pipeline.process_inbound_file = crashing
