"""CPU seconds spent by each kind of process on the machine during a measured stretch.

Where the time of a farm case goes: the worker's pool processes (the tasks), the worker's
main process (fetching, acking, handing tasks to the pool), this process (discovery and
dispatch), PostgreSQL, Redis, and everything else. Read from ``/proc`` (Linux); on another
system :func:`snapshot` returns ``None`` and the cases report no breakdown.
"""

from __future__ import annotations

import os
from pathlib import Path

KINDS = ("pool", "worker main", "discovery + dispatch", "postgres", "redis", "other")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def snapshot(worker_pid: int | None) -> dict[int, tuple[str, float]] | None:
    """pid -> (kind, CPU seconds so far) for every process; None without ``/proc``."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    pool = _children(worker_pid) if worker_pid else set()
    found = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
        found[pid] = (_kind(pid, name, worker_pid, pool), seconds)
    return found


def _children(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def _kind(pid: int, name: str, worker_pid: int | None, pool: set[int]) -> str:
    if pid in pool:
        return "pool"
    if pid == worker_pid:
        return "worker main"
    if pid == os.getpid():
        return "discovery + dispatch"
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("redis"):
        return "redis"
    return "other"


def spent(before: dict | None, after: dict | None) -> dict[str, float] | None:
    """CPU seconds per kind between two snapshots (processes that ended meanwhile not counted)."""
    if before is None or after is None:
        return None
    totals = dict.fromkeys(KINDS, 0.0)
    for pid, (kind, seconds) in after.items():
        previous = before.get(pid)
        totals[kind] += seconds - (previous[1] if previous and previous[0] == kind else 0.0)
    return {kind: round(seconds, 2) for kind, seconds in totals.items()}
