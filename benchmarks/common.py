"""Helpers shared by the benchmark cases: timing, memory, machine facts, output."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Where the cases keep their data (a farm's storage, input files): ``BENCH_DATA_DIR``, else the
#: system temp folder. Creating a file costs 0.02-1.1 ms on this VM depending on the folder
#: and the hour (BENCHMARKS.md), and a small file's job creates two: point this at the volume
#: a deployment would store on to measure that volume.
DATA_DIR_ENV = "BENCH_DATA_DIR"


def data_base() -> Path:
    """The folder under which the cases make their scratch folders (created if missing)."""
    base = Path(os.environ.get(DATA_DIR_ENV) or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return base


@contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    """A new folder under :func:`data_base`, removed with everything in it at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=data_base()) as folder:
        yield folder


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` calls of ``fn``, in seconds.

    The minimum, not the mean: the machine is shared, and noise only ever adds time.
    """
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size of this process (or of its waited-for children), in MB."""
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports kilobytes


def machine() -> dict:
    """Facts that make a figure comparable: date, CPU count, load average."""
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """A plain aligned text table on stdout."""
    cells = [header, *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    return str(value)


def write_json(path: str | Path, result: dict) -> None:
    """Write ``result`` as indented JSON."""
    Path(path).write_text(json.dumps(result, indent=2) + "\n")
