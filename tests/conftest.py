"""Shared fixtures: real PostgreSQL databases, a real Redis, and farm environments.

Tests that cross a process boundary run the real commands (``timesheet-batch``,
``celery worker``) as subprocesses with ``TIMESHEET_*`` variables, and inspect the
database directly. PostgreSQL and Redis must be running (``.ci/run`` starts them); a
missing service fails the session rather than skipping tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from timesheet_batch.db.migrate import upgrade_database

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of one real (moto) S3 server on loopback, shared by the session."""
    from tests.s3server import running_s3_server

    with running_s3_server() as endpoint_url:
        yield endpoint_url


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket of its own for each test."""
    from tests.s3server import s3_client

    name = f"ts-test-{uuid.uuid4().hex[:16]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def _pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database used as the template of every test database."""
    name = f"tsb_tmpl_{uuid.uuid4().hex[:10]}"
    try:
        _admin(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any failure means the service is missing
        pytest.exit(f"PostgreSQL at {PG_HOST}:5432 is required for the tests: {exc}", returncode=3)
    upgrade_database(_pg_url(name))
    from timesheet_batch.db.engine import dispose_engines

    dispose_engines()
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"tsb_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _pg_url(name)
    from timesheet_batch.db.engine import dispose_engines

    dispose_engines()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_database(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database with no schema at all (never migrated)."""
    name = f"tsb_empty_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    yield _pg_url(name)
    from timesheet_batch.db.engine import dispose_engines

    dispose_engines()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A flushed Redis database for one test (broker and results)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {REDIS_URL} is required for the tests: {exc}", returncode=3)
    yield REDIS_URL
    client.flushdb()


def base_env() -> dict[str, str]:
    """The test process's environment without any TIMESHEET_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHEET_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class Farm:
    """One farm's settings, commands and workers, for a test."""

    data_dir: Path
    env: dict[str, str]
    workers: list = field(default_factory=list)

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "storage"

    def cli(self, *args: str, timeout: float = 300, check: bool = False) -> subprocess.CompletedProcess:
        """Run ``timesheet-batch ARGS`` as a user would."""
        proc = subprocess.run(
            [sys.executable, "-m", "timesheet_batch.cli.main", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.data_dir.parent,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"timesheet-batch {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def celery(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "celery", "-A", "timesheet_batch", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.data_dir.parent,
        )

    @contextmanager
    def worker(self, concurrency: int = 2, queues: str = "high,medium,low", name: str | None = None):
        """A real ``celery worker`` process for the duration of the block."""
        from timesheet_batch.cli.local_workers import LocalWorkers

        workers = LocalWorkers(
            concurrency=concurrency, queues=queues, env=self.env,
            log_path=self.data_dir / "logs" / f"worker-{len(self.workers)}.log", name=name,
        )
        self.workers.append(workers)
        workers.start()
        try:
            yield workers
        finally:
            workers.stop(grace_s=20)

    def wait(self, predicate, *, timeout_s: float, sweep_every_s: float | None = None) -> bool:
        """Poll ``predicate``; with ``sweep_every_s``, run ``timesheet-batch sweep`` as beat would."""
        import time

        deadline = time.monotonic() + timeout_s
        next_sweep = time.monotonic() + (sweep_every_s or 0)
        while time.monotonic() < deadline:
            if predicate():
                return True
            if sweep_every_s and time.monotonic() > next_sweep:
                self.cli("sweep", timeout=60)
                next_sweep = time.monotonic() + sweep_every_s
            time.sleep(0.2)
        return bool(predicate())

    def worker_log(self) -> str:
        logs = sorted((self.data_dir / "logs").glob("*.log")) if (self.data_dir / "logs").exists() else []
        return "\n".join(p.read_text(errors="replace")[-5000:] for p in logs)

    def storage(self):
        from timesheet_batch.storage import LocalStorage

        return LocalStorage(self.storage_root)

    @property
    def database_url(self) -> str:
        return self.env.get("TIMESHEET_DATABASE_URL") or f"sqlite:///{self.data_dir / 'timesheet.sqlite'}"


@pytest.fixture
def farm(tmp_path: Path, pg_url: str, redis_url: str) -> Farm:
    """A production-shaped farm: Redis broker and results, PostgreSQL, local storage."""
    data_dir = tmp_path / "data"
    (data_dir / "storage").mkdir(parents=True)
    env = base_env() | {
        "TIMESHEET_DATA_DIR": str(data_dir),
        "TIMESHEET_BROKER_URL": redis_url,
        "TIMESHEET_DATABASE_URL": pg_url,
        "TIMESHEET_SERVICE_TIMEOUT_S": "3",
    }
    return Farm(data_dir=data_dir, env=env)


@pytest.fixture
def embedded_farm(tmp_path: Path) -> Farm:
    """The embedded default: nothing but a data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Farm(data_dir=data_dir, env=base_env() | {"TIMESHEET_DATA_DIR": str(data_dir)})
