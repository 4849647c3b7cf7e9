"""The harness of the farm cases: a throw-away farm on the real Redis and PostgreSQL.

Each farm case (``seed``, ``volume``, ``scaling``, ``priority``) runs inside
:func:`farm_session`, which gives it

* its own data directory in a scratch folder (``common.scratch_dir``; local storage under it),
* its own PostgreSQL database, created and migrated at the start and dropped at the end,
* a Redis database number of its own (:func:`free_redis_db`: found empty, flushed at the end),
* one real ``celery -A timesheet_batch worker`` (:class:`LocalWorkers`, concurrency 2).

The ``TIMESHEET_*`` variables are set in this process too, so discovery and dispatch run
here exactly as ``timesheet-batch run --workers 0`` would run them. Completion is read from
the database (``batches.summarized_at``, job rows), never from a result stream; the no-op
reference chord, which has no database, is watched through its callback's result key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text

from benchmarks import common, cpu

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
REDIS_HOST = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1")
#: Redis databases the farm cases may take (the tests use 9). A case takes the first one that
#: is empty and has no client: the machine is shared, and a worker of someone else's run on
#: the same database would consume our messages (and we theirs).
REDIS_DBS = (15, 14, 13, 12, 10)
CLAIM_KEY = "timesheet-benchmark-claim"
WORKER_CONCURRENCY = 2


@dataclass
class FarmSession:
    """A running benchmark farm: where it keeps things and how to reach them."""

    name: str
    data_dir: Path
    database_url: str
    broker_url: str
    env: dict[str, str]
    workers: object = None

    @property
    def storage_root(self) -> Path:
        """Root of the local storage (``file://`` URL of the farm)."""
        return self.data_dir / "storage"

    def worker_log(self) -> str:
        """The tail of the worker log (for an error message)."""
        path = self.data_dir / "logs" / "worker.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def farm_session(name: str, *, extra_env: dict[str, str] | None = None, broker_url: str | None = None,
                 prepare: Callable[[FarmSession], None] | None = None) -> Iterator[FarmSession]:
    """Set up the farm of case ``name`` (see the module docstring); tear it all down after.

    ``broker_url``: a Redis database the caller chose (default: a free one); ``prepare``: called
    with the session before the database is migrated (e.g. to add to its environment)."""
    db_name = f"bench_{name}_{uuid.uuid4().hex[:10]}"
    broker_url = broker_url or free_redis_db()
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=3)
    _admin(f"CREATE DATABASE {db_name}")
    try:
        with common.scratch_dir(f"bench-{name}-") as tmp:
            session = _configure(name, Path(tmp) / "data", db_name, broker_url, extra_env or {})
            if prepare is not None:
                prepare(session)
            from timesheet_batch.db.migrate import upgrade_database

            upgrade_database(session.database_url)
            try:
                yield session
            finally:
                if session.workers is not None:
                    session.workers.stop(grace_s=10)
                from timesheet_batch.db.engine import dispose_engines

                dispose_engines()
                _forget_pending_results()
    finally:
        _admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        client.flushdb()


def _forget_pending_results() -> None:
    """Stop following the chord results this process published, while Redis is still reachable.

    Publishing a chord subscribes to its results (Celery's Redis backend); left to interpreter
    exit, their ``__del__`` unsubscribes after the modules are gone and prints tracebacks.
    """
    import sys

    app_module = sys.modules.get("timesheet_batch.messaging.app")
    if app_module is None:
        return
    from celery.result import AsyncResult

    backend = app_module.app.backend
    gc.collect()
    for result in [o for o in gc.get_objects() if isinstance(o, AsyncResult) and o.backend is backend]:
        with contextlib.suppress(Exception):
            backend.remove_pending_result(result)
        result.backend = None  # so its __del__ does nothing


def free_redis_db() -> str:
    """The URL of the first database of REDIS_DBS with no keys and no connected client."""
    admin = redis.Redis(host=REDIS_HOST, socket_connect_timeout=3)
    busy = {int(c["db"]) for c in admin.client_list() if int(c["db"]) != 0}
    for number in REDIS_DBS:
        client = redis.Redis(host=REDIS_HOST, db=number)
        # The claim key keeps a run started at the same moment (CI runs cases side by side) off it.
        if number not in busy and not client.dbsize() and client.set(CLAIM_KEY, "1", nx=True):
            return f"redis://{REDIS_HOST}:6379/{number}"
    raise RuntimeError(f"no free Redis database among {REDIS_DBS}: another run is using them")


def _configure(name, data_dir: Path, db_name: str, broker_url: str, extra_env: dict) -> FarmSession:
    (data_dir / "storage").mkdir(parents=True)
    database_url = f"postgresql+psycopg://postgres@{PG_HOST}:5432/{db_name}"
    farm_env = {
        "TIMESHEET_DATA_DIR": str(data_dir),
        "TIMESHEET_BROKER_URL": broker_url,
        "TIMESHEET_DATABASE_URL": database_url,
        "TIMESHEET_SERVICE_TIMEOUT_S": "3",
        **extra_env,
    }
    # This process discovers and dispatches: it must see the same settings as the workers.
    for key in [k for k in os.environ if k.startswith("TIMESHEET_")]:
        del os.environ[key]
    os.environ.update(farm_env)
    from timesheet_batch import context
    from timesheet_batch.settings import get_settings

    get_settings.cache_clear()
    context._contexts.clear()
    repo_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, env.get("PYTHONPATH")]))
    return FarmSession(name, data_dir, database_url, broker_url, env)


def start_workers(session: FarmSession, *, concurrency: int = WORKER_CONCURRENCY, timeout_s: float = 60) -> None:
    """Start the worker and wait until both pool processes answer a ping (warm, not timed)."""
    from timesheet_batch.cli.local_workers import LocalWorkers

    session.workers = LocalWorkers(concurrency=concurrency, log_path=session.data_dir / "logs" / "worker.log",
                                   env=session.env, name=f"bench-{session.name}").start()
    noop_chord(concurrency * 4, timeout_s=timeout_s, session=session)


def noop_chord(size: int, *, timeout_s: float = 300, session: FarmSession | None = None,
               cpu_out: dict | None = None) -> float:
    """Seconds from publishing a chord of ``size`` pings (in ``high``) to its callback's result.

    The reference of the seed case: the same chord machinery and queues as a batch, no work.
    Watched by polling the callback's result key (one GET), not with ``AsyncResult.get()``.
    ``cpu_out`` receives the CPU seconds per kind of process (``cpu.spent``) under "cpu_s".
    """
    from celery import chord

    from timesheet_batch.messaging.app import app

    ping = app.signature("timesheet_batch.ping", queue="high", immutable=True)
    callback = ping.clone().set(task_id=str(uuid.uuid4()))
    cpu_before = cpu.snapshot(worker_pid(session))
    started = time.perf_counter()
    chord([ping.clone() for _ in range(size)])(callback)
    # A plain GET of the result key: AsyncResult would subscribe to the result stream.
    client = redis.Redis.from_url(app.conf.result_backend or app.conf.broker_url)
    result_key = app.backend.get_key_for_task(callback.id)
    deadline = time.monotonic() + timeout_s
    while not client.exists(result_key):
        if time.monotonic() > deadline or (session and session.workers and not session.workers.alive()):
            raise RuntimeError(f"no-op chord of {size} not done in {timeout_s:.0f}s\n"
                               + (session.worker_log() if session else ""))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if cpu_out is not None:
        cpu_out["cpu_s"] = cpu.spent(cpu_before, cpu.snapshot(worker_pid(session)))
    return seconds


def worker_pid(session: FarmSession | None) -> int | None:
    """The pid of the session's worker main process, if it runs one."""
    workers = session.workers if session else None
    return workers.process.pid if workers is not None and workers.process is not None else None


def utc_now() -> dt.datetime:
    """Naive UTC: the clock of the database's timestamp columns."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def wait_for_summary(session: FarmSession, batch_id: str, *, timeout_s: float) -> dt.datetime:
    """Poll the database until the batch is summarised; its ``summarized_at``."""
    from timesheet_batch.db import repository as repo
    from timesheet_batch.db.engine import session_scope

    deadline = time.monotonic() + timeout_s
    while True:
        with session_scope(session.database_url) as db:
            batch = repo.get_batch(db, batch_id=batch_id)
            if batch.summarized_at is not None:
                return batch.summarized_at
        if time.monotonic() > deadline or (session.workers and not session.workers.alive()):
            raise RuntimeError(f"batch {batch_id} not summarised in {timeout_s:.0f}s\n{session.worker_log()}")
        time.sleep(0.05)


def run_window(session: FarmSession, window: str, business_date: dt.date, *, timeout_s: float) -> dict:
    """Discover and dispatch a window, wait for its summary in the database; the figures."""
    from timesheet_batch.context import get_context
    from timesheet_batch.db import repository as repo
    from timesheet_batch.db.engine import session_scope
    from timesheet_batch.db.models import BatchJob
    from timesheet_batch.jobs.discovery import discover_window
    from timesheet_batch.messaging.publisher import dispatch_batch

    ctx = get_context()
    cpu_before = cpu.snapshot(worker_pid(session))
    started_utc, started = utc_now(), time.perf_counter()
    result = discover_window(ctx, window=window, business_date=business_date)
    discovered = time.perf_counter() - started
    dispatch_batch(result)
    dispatched = time.perf_counter() - started
    summarized_at = wait_for_summary(session, result.batch_id, timeout_s=timeout_s)
    cpu_s = cpu.spent(cpu_before, cpu.snapshot(worker_pid(session)))
    with session_scope(session.database_url) as db:
        batch = repo.get_batch(db, batch_id=result.batch_id)
        figures = {
            "window": window, "files": batch.total_files, "status": batch.status,
            "files_completed": batch.files_completed, "records_read": batch.records_read,
            "records_written": batch.records_written, "records_rejected": batch.records_rejected,
        }
        first_start, last_end = db.execute(
            select(func.min(BatchJob.started_at), func.max(BatchJob.completed_at))
            .where(BatchJob.batch_id == result.batch_id)
        ).one()
    # Both ends on the database's clock (naive UTC): polling granularity does not count.
    figures["seconds"] = (summarized_at - started_utc).total_seconds()
    # Where the window's ends go: before the first file starts, after the last one finished.
    if first_start is not None and last_end is not None:
        figures["first_file_started_s"] = (first_start - started_utc).total_seconds()
        figures["after_last_file_s"] = (summarized_at - last_end).total_seconds()
    figures["discover_s"], figures["dispatch_s"] = discovered, dispatched - discovered
    # Includes up to one 50 ms poll after the summary: a little more than the window itself.
    figures["cpu_s"] = cpu_s
    return figures
