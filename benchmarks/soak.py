"""Soak: windows back to back for hours, with random worker kills; does anything grow?

One farm (``farm.py``: a scratch data folder, its own PostgreSQL database, real ``celery -A
timesheet_batch worker``) runs business dates one after another until the time is up. For
each date the real commands do the work:

* ``timesheet-batch sample-data --date D --files N --records M --bad-ratio 0.02`` (every input
  format and every priority: the six sample vendors; 2 % bad records, within every vendor's
  reject limit, so these files must end COMPLETED with their exact reject counts);
* bad files beside them, which must end FAILED: one in an unknown vendor's folder, one
  binary junk file per vendor (every format), and one file per vendor with half its records
  bad (``sample-data --bad-ratio 0.5`` into a scratch storage, moved in under a new name);
* ``timesheet-batch run --workers 0 --window morning --date D``, then the same for
  ``nightly`` (every output format: the exports of the processed files). ``run`` sweeps
  while it waits, as beat would: it re-dispatches the work a killed worker held.

While a window runs, every ``--kill-every-s`` (jittered 0.5-1.5 x, seeded) a random pool
process is SIGKILLed; one kill in ``--main-kill-ratio`` hits the worker's main process
instead (its pool goes with it, as when a host dies), and the worker is started again.

After every window each job is checked: a generated good file COMPLETED with its exact
record and reject counts, a bad file FAILED, an export COMPLETED with the good records;
DEAD (attempts spent by repeated kills) is counted apart; anything else is a wrong state.

Resources are sampled at the start and at the end of every window: RSS, open file
descriptors and threads of each worker process (main and pool, from ``/proc``); PostgreSQL
connections to the farm's database (``pg_stat_activity``); Redis ``used_memory`` (the whole
server, shared with others), the keys of the broker and result databases, their memory and
how many have no TTL, unacked and queued messages; size and rows of each farm table; files
left behind (worker temp folder, storage temp files, checkpoint staging) and the storage
itself. Each figure is reported at the start and the end with its growth per window over the
first and the second half of the run (least squares; per process for the worker figures, as
kills replace processes); a figure that still grows in the second half beyond its noise is
flagged.

Redis: the broker in database 13 and the results in 14 by default (``--broker-db``,
``--result-db``; ``auto`` takes the farm cases' first free database, results in it too).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from benchmarks import common, cpu, farm

NAME = "soak"
HELP = "soak: morning and nightly windows back to back with random worker kills; resources at start and end"
DAY0 = dt.date(2026, 1, 5)
FILES, RECORDS = 200, 200
GOOD_BAD_RATIO = 0.02  # below every sample vendor's max_reject_ratio (5-10 %)
HEAVY_BAD_RATIO = 0.5  # above all of them: the file FAILS (the most sample-data allows)
KILL_EVERY_S, MAIN_KILL_RATIO = 45.0, 0.1
BROKER_DB, RESULT_DB = 13, 14
WINDOW_TIMEOUT_S = 1800
#: Growth over the second half below this is noise (absolute by unit, and relative to the end value).
#: Kept small: a steady 0.1 MB per window is a leak even when it is a few per cent of the process.
NOISE = {"MB": 2.0, "data MB": 0.25, "count": 2.0}
NOISE_RELATIVE = 0.01
#: A process's first samples are its warm-up (a new pool process grows by ~50 MB over its first
#: files): its growth is measured from the sample after these.
WARM_UP_SAMPLES = 2
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--hours", type=float, default=0.5, help="how long to keep starting dates (default 0.5)")
    parser.add_argument("--minutes", type=float, default=None, help="the same in minutes (overrides --hours)")
    parser.add_argument("--files", type=int, default=FILES, help=f"good files per date (default {FILES})")
    parser.add_argument("--records", type=int, default=RECORDS, help=f"records per file (default {RECORDS})")
    parser.add_argument("--concurrency", type=int, default=farm.WORKER_CONCURRENCY,
                        help=f"pool processes of the worker (default {farm.WORKER_CONCURRENCY})")
    parser.add_argument("--kill-every-s", type=float, default=KILL_EVERY_S,
                        help=f"mean seconds between kills while a window runs; 0: no kills (default {KILL_EVERY_S:g})")
    parser.add_argument("--main-kill-ratio", type=float, default=MAIN_KILL_RATIO,
                        help=f"share of kills that hit the worker's main process (default {MAIN_KILL_RATIO})")
    parser.add_argument("--seed", type=int, default=12, help="seed of the kills and of the files (default 12)")
    parser.add_argument("--broker-db", default=str(BROKER_DB),
                        help=f"Redis database of the broker, or 'auto' (default {BROKER_DB})")
    parser.add_argument("--result-db", default=str(RESULT_DB),
                        help=f"Redis database of the results, or 'same' (default {RESULT_DB})")


# --- the farm -------------------------------------------------------------------------------------------


def _claim_redis_db(number: int) -> str:
    """The URL of Redis database ``number``, if it is empty and nobody is connected to it."""
    admin = redis.Redis(host=farm.REDIS_HOST, socket_connect_timeout=3)
    busy = {int(c["db"]) for c in admin.client_list()}
    client = redis.Redis(host=farm.REDIS_HOST, db=number)
    if number in busy or client.dbsize() or not client.set(farm.CLAIM_KEY, "1", nx=True):
        raise RuntimeError(f"Redis database {number} is in use (keys or clients): pick another with --broker-db/"
                           "--result-db")
    return f"redis://{farm.REDIS_HOST}:6379/{number}"


@contextmanager
def soak_session(broker_db: str, result_db: str) -> Iterator[farm.FarmSession]:
    """``farm.farm_session`` with the Redis databases chosen here (broker, results)."""
    urls = [farm.free_redis_db() if broker_db == "auto" else _claim_redis_db(int(broker_db))]
    extra_env = {}
    try:
        if result_db not in ("same", "auto", broker_db):
            urls.append(_claim_redis_db(int(result_db)))
            extra_env["TIMESHEET_RESULT_BACKEND"] = urls[1]
        with farm.farm_session(NAME, extra_env=extra_env, broker_url=urls[0], prepare=_own_temp_folder) as session:
            yield session
    finally:
        for url in urls:
            redis.Redis.from_url(url, socket_connect_timeout=3).flushdb()


def _own_temp_folder(session: farm.FarmSession) -> None:
    """The workers' and commands' temp folder: what a killed process leaves there is counted."""
    (session.data_dir / "tmp").mkdir()
    session.env["TMPDIR"] = str(session.data_dir / "tmp")


def _cli(session: farm.FarmSession, *args: str, env: dict | None = None, timeout_s: float = 300,
         ) -> subprocess.CompletedProcess:
    """One ``timesheet-batch`` command (as ``python -m timesheet_batch``, this interpreter)."""
    return subprocess.run([sys.executable, "-m", "timesheet_batch", *args], env=env or session.env,
                          capture_output=True, text=True, timeout=timeout_s)


# --- inputs ---------------------------------------------------------------------------------------------


def make_inputs(session: farm.FarmSession, day: dt.date, *, files: int, records: int, seed: int) -> dict:
    """Good files by ``sample-data``, then the bad ones; {"good": {key: manifest entry}, "bad": {key: why}}."""
    proc = _cli(session, "sample-data", "--date", day.isoformat(), "--files", str(files), "--records",
                str(records), "--bad-ratio", str(GOOD_BAD_RATIO), "--seed", str(seed), "--json")
    if proc.returncode:
        raise RuntimeError(f"sample-data exited {proc.returncode}: {proc.stderr[-2000:]}")
    good = {f["key"]: f for f in json.loads(proc.stdout)}
    inbound = session.storage_root / "inbound" / day.isoformat()
    bad = {}
    stray = inbound / "NOBODY" / "stray.csv"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("EMP,NAME\n1,x\n")
    bad[_key(session, stray)] = "unknown vendor"
    rng = random.Random(seed)
    for vendor_dir in sorted(p for p in inbound.iterdir() if p.is_dir() and p.name != "NOBODY"):
        extension = next(vendor_dir.iterdir()).suffix
        junk = vendor_dir / f"junk-{vendor_dir.name}{extension}"
        junk.write_bytes(bytes(rng.getrandbits(8) for _ in range(2048)))
        bad[_key(session, junk)] = "binary junk"
    # Half the records bad: over every vendor's limit. Written elsewhere (sample-data names files by
    # number, so in place they would replace good ones), then moved in under a name of their own.
    with common.scratch_dir("bench-soak-heavy-") as scratch:
        env = {**session.env, "TIMESHEET_STORAGE_URL": Path(scratch).as_uri()}
        proc = _cli(session, "sample-data", "--date", day.isoformat(), "--files", "6", "--records",
                    str(max(records, 20)), "--bad-ratio", str(HEAVY_BAD_RATIO), "--seed", str(seed + 1),
                    "--json", env=env)
        if proc.returncode:
            raise RuntimeError(f"sample-data (heavy) exited {proc.returncode}: {proc.stderr[-2000:]}")
        for entry in json.loads(proc.stdout):
            source = Path(scratch) / entry["key"]
            target = inbound / source.parent.name / f"rejects-{source.name}"
            shutil.move(source, target)
            bad[_key(session, target)] = "too many rejects"
    return {"good": good, "bad": bad}


def _key(session: farm.FarmSession, path: Path) -> str:
    return path.relative_to(session.storage_root).as_posix()


# --- kills ----------------------------------------------------------------------------------------------


class Killer:
    """SIGKILLs a random worker process now and then while a window runs; restarts a killed worker."""

    def __init__(self, session: farm.FarmSession, *, every_s: float, main_ratio: float, concurrency: int,
                 rng: random.Random, started: float):
        self.session, self.every_s, self.main_ratio = session, every_s, main_ratio
        self.concurrency, self.rng, self.started = concurrency, rng, started
        self.events: list[dict] = []
        self.window = 0
        self.next_at = self._later()

    def _later(self) -> float:
        return time.monotonic() + self.rng.uniform(0.5, 1.5) * self.every_s if self.every_s > 0 else math.inf

    def tick(self) -> None:
        """Kill one process if one is due (called while a window runs)."""
        if time.monotonic() < self.next_at:
            return
        main = farm.worker_pid(self.session)
        children = sorted(pid for pid in cpu._children(main) if _alive(pid)) if main else []
        if not children:  # still starting: a kill now makes Celery give up the whole worker
            self.next_at = time.monotonic() + 1
            return
        event = {"t_s": round(time.monotonic() - self.started, 1), "window": self.window}
        if self.rng.random() < self.main_ratio:
            event.update(self._kill_main(main, children))
        else:
            victim = self.rng.choice(children)
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            event.update(target="pool", pid=victim)
        self.events.append(event)
        self.next_at = self._later()

    def _kill_main(self, main: int, children: list[int]) -> dict:
        os.kill(main, signal.SIGKILL)
        time.sleep(1.0)
        orphans = [pid for pid in children if _alive(pid)]
        # Pool processes left alive would finish their file without their main process: end them, as
        # a host going down would.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(main, signal.SIGKILL)
        self.session.workers.process.wait()
        restart_started = time.monotonic()
        farm.start_workers(self.session, concurrency=self.concurrency, timeout_s=600)
        return {"target": "main", "pid": main, "pool_alive_1s_after": len(orphans),
                "restart_s": round(time.monotonic() - restart_started, 1), "new_pid": farm.worker_pid(self.session)}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# --- windows --------------------------------------------------------------------------------------------


def run_window(session: farm.FarmSession, window: str, day: dt.date, killer: Killer) -> dict:
    """``timesheet-batch run --workers 0 --window W --date D`` with kills while it runs."""
    logs = session.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    out_path, err_path = logs / f"run-{day}-{window}.json", logs / f"run-{day}-{window}.log"
    kills_before = len(killer.events)
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "timesheet_batch", "run", "--workers", "0", "--window",
                                 window, "--date", day.isoformat(), "--json", "--timeout", str(WINDOW_TIMEOUT_S)],
                                env=session.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                killer.tick()
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seconds = time.monotonic() - started
    kills = killer.events[kills_before:]
    figures = {"window": window, "date": day.isoformat(), "exit_code": proc.returncode, "seconds": round(seconds, 2),
               "kills_pool": sum(k["target"] == "pool" for k in kills),
               "kills_main": sum(k["target"] == "main" for k in kills)}
    if proc.returncode not in (0, 1):
        figures["error"] = err_path.read_text(errors="replace")[-3000:]
    return figures


def check_jobs(engine, window: str, day: dt.date, inputs: dict, completed_good: set[str]) -> dict:
    """Every job of the window's batch against what it should have become."""
    from timesheet_batch.db.models import Batch, BatchJob

    with Session(engine) as db:
        batch = db.scalars(select(Batch).where(Batch.window == window, Batch.business_date == day)).first()
        jobs = db.scalars(select(BatchJob).where(BatchJob.batch_id == batch.id)).all() if batch else []
    good, bad = inputs["good"], inputs["bad"]
    statuses, attempts, wrong = Counter(), Counter(), []
    records_read = records_written = 0
    seen = set()
    for job in jobs:
        key = job.input_file_path
        seen.add(key)
        statuses[job.status] += 1
        attempts[job.attempts] += 1
        records_read += job.records_read or 0
        if window == "morning":
            if key in good:
                entry = good[key]
                if job.status == "COMPLETED":
                    completed_good.add(key)
                    records_written += job.records_processed or 0
                    if (job.records_read, job.records_rejected) != (entry["records"], entry["expected_rejects"]):
                        wrong.append(f"{key}: read {job.records_read} rejected {job.records_rejected}, expected "
                                     f"{entry['records']} and {entry['expected_rejects']}")
                elif job.status != "DEAD":
                    wrong.append(f"{key}: {job.status} ({job.error_message})")
            elif key in bad:
                if job.status not in ("FAILED", "DEAD"):
                    wrong.append(f"{key} ({bad[key]}): {job.status}")
            else:
                wrong.append(f"{key}: a job for no input of ours ({job.status})")
        else:
            source = _inbound_of_export(key, day, good)
            if source is None:
                wrong.append(f"{key}: an export of no good file ({job.status})")
            elif job.status == "COMPLETED":
                expected = good[source]["records"] - good[source]["expected_rejects"]
                records_written += job.records_processed or 0
                if job.records_processed != expected:
                    wrong.append(f"{key}: {job.records_processed} records exported, expected {expected}")
            elif job.status != "DEAD":
                wrong.append(f"{key}: {job.status} ({job.error_message})")
    expected_keys = (set(good) | set(bad)) if window == "morning" else {
        f"processed/{day.isoformat()}/{k.split('/')[2]}/{k.rsplit('/', 1)[1]}.parquet" for k in completed_good}
    wrong += [f"{key}: no job" for key in sorted(expected_keys - seen)]
    return {"batch_status": batch.status if batch else None, "jobs": len(jobs), "statuses": dict(statuses),
            "completed": statuses["COMPLETED"], "failed": statuses["FAILED"], "dead": statuses["DEAD"],
            "attempts": {str(k): v for k, v in sorted(attempts.items())}, "records_read": records_read,
            "records_written": records_written, "wrong_count": len(wrong), "wrong": wrong[:20]}


def _inbound_of_export(key: str | None, day: dt.date, good: dict) -> str | None:
    match = re.fullmatch(rf"processed/{day.isoformat()}/([^/]+)/(.+)\.parquet", key or "")
    source = f"inbound/{day.isoformat()}/{match[1]}/{match[2]}" if match else None
    return source if source in good else None


def report_jobs(engine) -> dict:
    """Report jobs (fired by the windows' dependency rules) by type and status."""
    from sqlalchemy import func

    from timesheet_batch.db.models import BatchJob

    with engine.connect() as connection:
        rows = connection.execute(select(BatchJob.report_type, BatchJob.status, func.count())
                                  .where(BatchJob.report_type.not_in(("PROCESS_FILE", "EXPORT_FILE")))
                                  .group_by(BatchJob.report_type, BatchJob.status)).all()
        failed = connection.execute(select(BatchJob.report_type, BatchJob.error_message)
                                    .where(BatchJob.report_type.not_in(("PROCESS_FILE", "EXPORT_FILE")),
                                           BatchJob.status.in_(("FAILED", "DEAD"))).limit(5)).all()
        firings = connection.execute(text(
            "SELECT rule_name, status, count(*), min(error_message) FROM job_dependencies GROUP BY 1, 2 ORDER BY 1, 2"
        )).all()
    by_status = Counter()
    for _, status, count in rows:
        by_status[status] += count
    return {"by_status": dict(by_status), "by_type": {f"{t} {s}": n for t, s, n in rows},
            "failed_examples": [f"{t}: {m}" for t, m in failed],
            "dependency_firings": [{"rule": r, "status": s, "count": n, "example_reason": m}
                                   for r, s, n, m in firings]}


# --- samples --------------------------------------------------------------------------------------------


def sample(session: farm.FarmSession, engine, redis_urls: list[str], *, index: int, started: float) -> dict:
    """Every resource figure now."""
    main = farm.worker_pid(session)
    return {"index": index, "t_s": round(time.monotonic() - started, 1), "load_1m": round(os.getloadavg()[0], 2),
            "main": _process(main) if main else None,
            "pool": [p for p in (_process(pid) for pid in sorted(cpu._children(main) if main else [])) if p],
            "postgres": _postgres(engine), "redis": _redis(redis_urls), "leftovers": _leftovers(session)}


def _process(pid: int) -> dict | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None  # ended meanwhile
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:
        return None  # exiting (a zombie has no memory left)
    return {"pid": pid, "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1), "fds": fds,
            "threads": int(fields["Threads"])}


def _postgres(engine) -> dict:
    with engine.connect() as connection:
        states = dict(connection.execute(text(
            "SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1")).all())
        tables = connection.execute(text(
            "SELECT relname, pg_total_relation_size(relid), n_dead_tup FROM pg_stat_user_tables ORDER BY relname"
        )).all()
        found = {}
        for name, size, dead in tables:
            rows = connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()
            found[name] = {"mb": round(size / 2**20, 3), "rows": rows, "dead_tuples": dead}
    return {"connections": sum(states.values()), "by_state": states, "tables": found}


def _redis(urls: list[str]) -> dict:
    info = redis.Redis.from_url(urls[0], socket_connect_timeout=3).info("memory")
    dbs = {}
    for url in dict.fromkeys(urls):
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        keys = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.ttl(key)
            pipe.memory_usage(key)
            pipe.type(key)
        answers = pipe.execute() if keys else []
        kinds, no_ttl, memory, messages = Counter(), 0, 0, Counter()
        for n, key in enumerate(keys):
            ttl, used, kind = answers[3 * n: 3 * n + 3]
            name = _UUID.sub("*", key.decode(errors="replace"))
            kinds[name] += 1
            no_ttl += ttl == -1
            memory += used or 0
            if kind == b"list":
                messages[name] += client.llen(key)
        unacked = client.hlen("unacked")
        dbs[url.rsplit("/", 1)[1]] = {"keys": len(keys), "keys_without_ttl": no_ttl,
                                      "keys_mb": round(memory / 2**20, 3), "unacked": unacked,
                                      "list_messages": dict(messages), "key_kinds": dict(kinds.most_common(12))}
    return {"used_memory_mb": round(info["used_memory"] / 2**20, 2), "dbs": dbs}


def _leftovers(session: farm.FarmSession) -> dict:
    tmp = session.data_dir / "tmp"
    storage_files = storage_bytes = temp_files = 0
    for folder, _, names in os.walk(session.storage_root):
        for name in names:
            storage_files += 1
            temp_files += name.startswith(".tmp-")
            with contextlib.suppress(OSError):
                storage_bytes += os.stat(os.path.join(folder, name)).st_size
    staging = session.storage_root / "staging"
    tmp_names = sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []
    return {"worker_tmp_entries": len(tmp_names), "worker_tmp_names": tmp_names[:10],
            "storage_temp_files": temp_files,
            "staging_entries": sum(len(names) for _, _, names in os.walk(staging)) if staging.exists() else 0,
            "storage_files": storage_files, "storage_mb": round(storage_bytes / 2**20, 2)}


# --- analysis -------------------------------------------------------------------------------------------


def _metrics(samples: list[dict]) -> list[tuple[str, str, Callable]]:
    """(name, unit, value of a sample) for every figure; a per-process figure gives {pid: value}."""
    def per_process(role: str, field: str) -> Callable:
        if role == "main":
            return lambda s: {s["main"]["pid"]: s["main"][field]} if s["main"] else {}
        return lambda s: {p["pid"]: p[field] for p in s["pool"]}

    found = [(f"worker main {label}", unit, per_process("main", field))
             for label, unit, field in (("RSS MB", "MB", "rss_mb"), ("open fds", "count", "fds"),
                                        ("threads", "count", "threads"))]
    found += [(f"pool process {label}", unit, per_process("pool", field))
              for label, unit, field in (("RSS MB", "MB", "rss_mb"), ("open fds", "count", "fds"),
                                         ("threads", "count", "threads"))]
    found += [("PostgreSQL connections", "count", lambda s: s["postgres"]["connections"])]
    tables = sorted(samples[-1]["postgres"]["tables"])
    found += [("tables total MB", "data MB",
               lambda s: round(sum(t["mb"] for t in s["postgres"]["tables"].values()), 3))]
    for name in tables:
        found += [(f"table {name} MB", "data MB", lambda s, n=name: s["postgres"]["tables"].get(n, {}).get("mb", 0)),
                  (f"table {name} rows", "count", lambda s, n=name: s["postgres"]["tables"].get(n, {}).get("rows", 0))]
    found += [("Redis used_memory MB (whole server)", "MB", lambda s: s["redis"]["used_memory_mb"])]
    for db in samples[-1]["redis"]["dbs"]:
        found += [(f"Redis db {db} {label}", unit, lambda s, d=db, f=field: s["redis"]["dbs"][d][f])
                  for label, unit, field in (("keys", "count", "keys"),
                                             ("keys without TTL", "count", "keys_without_ttl"),
                                             ("keys MB", "data MB", "keys_mb"),
                                             ("unacked messages", "count", "unacked"))]
        found += [(f"Redis db {db} queued messages", "count",
                   lambda s, d=db: sum(s["redis"]["dbs"][d]["list_messages"].values()))]
    found += [(f"leftover {label}", "count", lambda s, f=field: s["leftovers"][f])
              for label, field in (("worker temp entries", "worker_tmp_entries"),
                                   ("storage temp files", "storage_temp_files"), ("staging files", "staging_entries"))]
    found += [("storage files", "count", lambda s: s["leftovers"]["storage_files"]),
              ("storage MB", "data MB", lambda s: s["leftovers"]["storage_mb"])]
    return found


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (x, y) points; None with fewer than 3."""
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else None


def _half_slope(series: list[tuple[int, object]], low: float, high: float) -> float | None:
    """Growth per window between sample indexes ``low`` and ``high``; per process, weighted by samples."""
    points = [(x, v) for x, v in series if low <= x <= high]
    if not points or not isinstance(points[0][1], dict):
        return _slope([(x, v) for x, v in points])
    by_pid: dict[int, list] = {}
    for x, values in series:  # the whole run: a process's warm-up is its first samples of all
        for pid, value in values.items():
            by_pid.setdefault(pid, []).append((x, value))
    by_pid = {pid: [(x, v) for x, v in p[WARM_UP_SAMPLES:] if low <= x <= high] for pid, p in by_pid.items()}
    slopes = [(len(p), _slope(p)) for p in by_pid.values() if len(p) >= 3]
    slopes = [(n, s) for n, s in slopes if s is not None]
    return sum(n * s for n, s in slopes) / sum(n for n, _ in slopes) if slopes else None


def _show(value) -> object:
    """A sample's value as a number (per process: the largest)."""
    if isinstance(value, dict):
        return max(value.values()) if value else None
    return value


def analyse(samples: list[dict]) -> list[dict]:
    """Start, end, growth per window over each half and a flag, per figure."""
    windows = len(samples) - 1
    middle = windows / 2
    rows = []
    for name, unit, value_of in _metrics(samples):
        series = [(s["index"], value_of(s)) for s in samples]
        first, second = _half_slope(series, 0, middle), _half_slope(series, middle, windows)
        start, end = _show(series[0][1]), _show(series[-1][1])
        growth = None if second is None else second * (windows - middle)
        noise = max(NOISE[unit], NOISE_RELATIVE * abs(end or 0))
        if growth is None:
            verdict = "n/a"
        elif growth > noise:
            verdict = "GROWS"
        elif first is not None and first * middle > noise:
            verdict = "levelled off"
        else:
            verdict = "flat"
        rows.append({"metric": name, "unit": unit, "start": start, "end": end,
                     "per_window_first_half": first, "per_window_second_half": second,
                     "growth_second_half": growth, "noise": noise, "verdict": verdict,
                     "per_process": isinstance(series[0][1], dict)})
    return rows


# --- the case -------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    """Windows back to back until the time is up, with kills and samples; the results as a dict."""
    duration_s = (args.minutes * 60) if args.minutes is not None else args.hours * 3600
    rng = random.Random(args.seed)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    windows, reports, samples = [], {}, []
    interrupted, stopped_by = False, None
    setup: dict = {}
    try:
        with soak_session(args.broker_db, args.result_db) as session:
            redis_urls = [session.broker_url, session.env.get("TIMESHEET_RESULT_BACKEND") or session.broker_url]
            engine = create_engine(session.database_url, poolclass=NullPool)
            try:
                started = time.monotonic()
                farm.start_workers(session, concurrency=args.concurrency, timeout_s=300)
                setup["workers_ready_s"] = round(time.monotonic() - started, 1)
                killer = Killer(session, every_s=args.kill_every_s, main_ratio=args.main_kill_ratio,
                                concurrency=args.concurrency, rng=rng, started=started)
                samples.append(sample(session, engine, redis_urls, index=0, started=started))
                _progress(samples[-1], None)
                day = DAY0
                try:
                    while time.monotonic() - started < duration_s or not windows:
                        made = time.monotonic()
                        inputs = make_inputs(session, day, files=args.files, records=args.records,
                                             seed=args.seed + (day - DAY0).days)
                        made_s = time.monotonic() - made
                        completed_good: set[str] = set()
                        for window in ("morning", "nightly"):
                            killer.window = len(windows) + 1
                            figures = run_window(session, window, day, killer)
                            figures.update(check_jobs(engine, window, day, inputs, completed_good))
                            figures["index"] = len(windows) + 1
                            if window == "morning":
                                figures["inputs_made_s"] = round(made_s, 2)
                                figures["good_files"], figures["bad_files"] = len(inputs["good"]), len(inputs["bad"])
                            windows.append(figures)
                            samples.append(sample(session, engine, redis_urls, index=len(windows), started=started))
                            _progress(samples[-1], figures)
                            if "error" in figures:
                                stopped_by = f"window {figures['index']} exited {figures['exit_code']}"
                                break
                        if stopped_by:
                            break
                        day += dt.timedelta(days=1)
                except KeyboardInterrupt:
                    interrupted = True
                    print("soak: interrupted; reporting what ran", file=sys.stderr)
                except Exception as exc:  # noqa: BLE001 - reported with everything measured before it
                    stopped_by = f"{type(exc).__name__}: {exc}"[:3000]
                    print(f"soak: stopped: {stopped_by}", file=sys.stderr)
                reports = _settled_reports(engine, timeout_s=0 if interrupted else 120)
                elapsed = time.monotonic() - started
            finally:
                engine.dispose()
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    result = {
        "case": NAME, **common.machine(), "git": _git(), "hours": duration_s / 3600, "elapsed_s": round(elapsed, 1),
        "interrupted": interrupted, "stopped_by": stopped_by, "files_per_date": args.files,
        "records_per_file": args.records, "concurrency": args.concurrency, "kill_every_s": args.kill_every_s,
        "main_kill_ratio": args.main_kill_ratio, "seed": args.seed, **setup,
        "windows": windows, "kills": killer.events, "reports": reports, "samples": samples,
        "analysis": analyse(samples) if len(samples) > 1 else [],
    }
    result["totals"] = _totals(result)
    _print(result)
    return result


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _settled_reports(engine, timeout_s: float = 120) -> dict:
    """The report jobs once none is running any more (or after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = report_jobs(engine)
        unfinished = sum(n for s, n in found["by_status"].items()
                         if s not in ("COMPLETED", "FAILED", "DEAD", "CANCELLED"))
        if not unfinished or time.monotonic() > deadline:
            found["unfinished"] = unfinished
            return found
        time.sleep(1)


def _git() -> dict:
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                                 timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"head": head, "uncommitted": [line[3:] for line in changed]}


def _totals(result: dict) -> dict:
    windows = result["windows"]
    morning = [w for w in windows if w["window"] == "morning"]
    return {
        "dates": len(morning), "windows": len(windows),
        "files": sum(w["jobs"] for w in windows), "inbound_files": sum(w["jobs"] for w in morning),
        "records_read_inbound": sum(w["records_read"] for w in morning),
        "completed": sum(w["completed"] for w in windows), "failed": sum(w["failed"] for w in windows),
        "dead": sum(w["dead"] for w in windows), "wrong_states": sum(w["wrong_count"] for w in windows),
        "kills_pool": sum(k["target"] == "pool" for k in result["kills"]),
        "kills_main": sum(k["target"] == "main" for k in result["kills"]),
        "window_seconds_median": sorted(w["seconds"] for w in windows)[len(windows) // 2] if windows else None,
    }


def _progress(s: dict, figures: dict | None) -> None:
    main = s["main"] or {}
    what = "start" if figures is None else (
        f"window {figures['index']} {figures['window']} {figures['date']}: {figures['seconds']:.0f} s, "
        f"{figures['completed']} completed, {figures['failed']} failed, {figures['dead']} dead, "
        f"{figures['wrong_count']} wrong, kills {figures['kills_pool']}+{figures['kills_main']} main")
    print(f"soak {s['t_s']:>7.0f} s  {what}; main {main.get('rss_mb')} MB {main.get('fds')} fds, pool "
          f"{[p['rss_mb'] for p in s['pool']]} MB, pg {s['postgres']['connections']} conn, "
          f"load {s['load_1m']}", file=sys.stderr, flush=True)


def _print(result: dict) -> None:
    t = result["totals"]
    rows = [[w["index"], w["date"], w["window"], w["jobs"], w["completed"], w["failed"], w["dead"], w["wrong_count"],
             w["records_read"], w["seconds"], f"{w['kills_pool']}+{w['kills_main']}"] for w in result["windows"]]
    title = (f"soak: {t['windows']} windows ({t['dates']} dates) in {result['elapsed_s'] / 60:.1f} min, "
             f"{result['files_per_date']} good files x {result['records_per_file']} records per date, "
             f"nproc {result['nproc']}, load {result['load_average'][0]}")
    common.print_table(title, ["#", "date", "window", "jobs", "completed", "failed", "dead", "wrong", "records",
                               "seconds", "kills (pool+main)"], rows)

    def number(value) -> str:
        return "-" if value is None else f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"

    rows = [[a["metric"] + (" (per process)" if a["per_process"] else ""), number(a["start"]), number(a["end"]),
             number(a["per_window_first_half"]), number(a["per_window_second_half"]),
             number(a["growth_second_half"]), a["verdict"]] for a in result["analysis"]]
    common.print_table("resources: start and end; growth per window in each half (per process: mean over processes, "
                       "each from its third sample on); 2nd half growth = its slope x windows in the half",
                       ["figure", "start", "end", "/window 1st half", "/window 2nd half", "2nd half growth",
                        "verdict"], rows)
    print(f"kills: {t['kills_pool']} pool processes, {t['kills_main']} worker main processes; jobs: "
          f"{t['completed']} completed, {t['failed']} failed, {t['dead']} dead, {t['wrong_states']} in a wrong state; "
          f"reports: {result['reports'].get('by_status')}")
    grows = [a["metric"] for a in result["analysis"] if a["verdict"] == "GROWS"]
    print(f"still growing in the second half: {', '.join(grows) if grows else 'nothing'}")
    if result["stopped_by"] or result["interrupted"]:
        print(f"stopped early: {result['stopped_by'] or 'interrupted'}")
