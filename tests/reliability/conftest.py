"""Farms for fault injection: private Redis / PostgreSQL servers where a scenario kills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Farm, base_env
from tests.reliability.harness import FAST_RECOVERY_ENV
from tests.reliability.servers import PostgresServer, RedisServer

PLUGINS = Path(__file__).parent / "plugins"


def _farm(tmp_path: Path, broker_url: str, database_url: str) -> Farm:
    data_dir = tmp_path / "data"
    (data_dir / "storage").mkdir(parents=True)
    env = base_env() | FAST_RECOVERY_ENV | {
        "TIMESHEET_DATA_DIR": str(data_dir),
        "TIMESHEET_BROKER_URL": broker_url,
        "TIMESHEET_DATABASE_URL": database_url,
    }
    return Farm(data_dir=data_dir, env=env)


@pytest.fixture
def fault_farm(tmp_path, pg_url, redis_url) -> Farm:
    """Shared Redis and a fresh PostgreSQL database; faults hit worker processes only."""
    return _farm(tmp_path, redis_url, pg_url)


@pytest.fixture
def private_redis(tmp_path) -> RedisServer:
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture
def redis_fault_farm(tmp_path, pg_url, private_redis) -> Farm:
    """A farm whose Redis the test may restart (no persistence: queued messages vanish)."""
    farm = _farm(tmp_path, private_redis.url, pg_url)
    farm.redis = private_redis
    return farm


@pytest.fixture
def private_postgres() -> PostgresServer:
    server = PostgresServer().init()
    yield server
    server.destroy()


@pytest.fixture
def postgres_fault_farm(tmp_path, redis_url, private_postgres) -> Farm:
    """A farm whose PostgreSQL the test may stop and start."""
    farm = _farm(tmp_path, redis_url, private_postgres.url)
    farm.postgres = private_postgres
    return farm


def with_plugins(farm: Farm, **env: str) -> Farm:
    """Load tests/reliability/plugins/sitecustomize.py into the farm's processes."""
    farm.env["PYTHONPATH"] = f"{PLUGINS}:{farm.env['PYTHONPATH']}"
    farm.env.update(env)
    return farm
