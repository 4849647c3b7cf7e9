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


_CRASH_AT = os.environ.get("TSB_CRASH_AT_CHUNK")
_CRASH_MARKER = os.environ.get("TSB_CRASH_MARKER")

if _CRASH_AT and _CRASH_MARKER:
    from celery import signals

    @signals.worker_process_init.connect
    def _arm_mid_file_crash(**_):
        """The first run to reach chunk ``TSB_CRASH_AT_CHUNK`` of any file dies there, once."""
        import signal
        from pathlib import Path

        from timesheet_batch import pipeline

        real = pipeline.process_inbound_file

        def crashing_once(*, on_chunk=None, **kwargs):
            def watched(progress):
                if progress.chunk_index == int(_CRASH_AT) and not Path(_CRASH_MARKER).exists():
                    Path(_CRASH_MARKER).write_text("crashed")
                    os.kill(os.getpid(), signal.SIGKILL)
                if on_chunk is not None:
                    on_chunk(progress)

            return real(on_chunk=watched, **kwargs)

        pipeline.process_inbound_file = crashing_once


_REPORT_MARKER = os.environ.get("TSB_CRASH_REPORT_MARKER")

if _REPORT_MARKER:
    from celery import signals

    @signals.worker_process_init.connect
    def _arm_report_crash(**_):
        """The first report build on this machine dies (SIGKILL) once, after its job was claimed."""
        import signal
        from pathlib import Path

        from timesheet_batch.reports import content

        real = content.build_report

        def crashing_once(*args, **kwargs):
            if not Path(_REPORT_MARKER).exists():
                Path(_REPORT_MARKER).write_text("crashed")
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        content.build_report = crashing_once
