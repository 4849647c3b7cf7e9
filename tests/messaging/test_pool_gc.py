"""A pool process frees what a failed task leaves in reference cycles (no Celery worker needed)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT, base_env

# A failed task leaves a cycle (its exception's traceback holds Celery's trace frame, whose locals
# hold the exception): here a stand-in cycle, watched through a weak reference.
_CODE = """
import gc, weakref
from timesheet_batch.messaging import tasks

class Node: pass

def cycle():
    node = Node(); node.self = node
    return weakref.ref(node)

gc.disable()  # only the hooks collect here
tasks._freeze_inherited_objects()
ok = cycle()
tasks._note_failed_task(state="SUCCESS"); tasks._collect_after_failed_task()
kept = ok() is not None  # nothing collects after a task that succeeded
failed = cycle()
tasks._note_failed_task(state="FAILURE"); tasks._collect_after_failed_task()
print(kept, failed() is None, ok() is None, tasks._collect_before_next_task)
"""


def test_the_task_after_a_failed_one_starts_with_the_failed_ones_cycles_freed(tmp_path) -> None:
    env = base_env() | {"TIMESHEET_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", _CODE], env=env, capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True", "False"]
