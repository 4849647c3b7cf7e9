"""Settings: defaults derive from the data dir; a bad variable is named, exit 2."""

from __future__ import annotations

import pytest

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.settings import load_settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("TIMESHEET_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TIMESHEET_DATA_DIR", str(tmp_path / "d"))
    return monkeypatch


def test_embedded_defaults_live_under_the_data_dir(clean_env, tmp_path):
    settings = load_settings()
    root = tmp_path / "d"
    assert settings.effective_broker_url == "embedded://localhost/"
    assert settings.effective_database_url == f"sqlite:///{root / 'timesheet.sqlite'}"
    assert settings.effective_storage_url == f"file://{root / 'storage'}"
    assert settings.effective_result_backend == f"db+sqlite:///{root / 'celery-results.sqlite'}"


def test_redis_broker_derives_redis_results(clean_env):
    clean_env.setenv("TIMESHEET_BROKER_URL", "redis://redis:6379/0")
    assert load_settings().effective_result_backend == "redis://redis:6379/0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMESHEET_BROKER_URL", "kafka://x"),
        ("TIMESHEET_DATABASE_URL", "mysql://x/y"),
        ("TIMESHEET_STORAGE_URL", "ftp://x"),
        ("TIMESHEET_TIMEZONE", "Mars/Olympus"),
        ("TIMESHEET_CHUNK_SIZE", "ten"),
        ("TIMESHEET_MAX_RETRIES", "-1"),
    ],
)
def test_bad_setting_names_its_variable(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert name in str(info.value)


def test_prod_refuses_the_dev_masking_key(clean_env):
    clean_env.setenv("TIMESHEET_ENV", "prod")
    with pytest.raises(ConfigurationError, match="TIMESHEET_MASKING_KEY"):
        load_settings()


def test_cli_exits_2_naming_the_bad_variable(embedded_farm):
    embedded_farm.env["TIMESHEET_CHUNK_SIZE"] = "lots"
    proc = embedded_farm.cli("status")
    assert proc.returncode == 2
    assert "TIMESHEET_CHUNK_SIZE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_celery_worker_exits_2_on_bad_setting(embedded_farm):
    embedded_farm.env["TIMESHEET_TIMEZONE"] = "Nowhere/Atlantis"
    proc = embedded_farm.celery("worker", "--help", timeout=60)
    assert proc.returncode == 2
    assert "TIMESHEET_TIMEZONE" in proc.stderr
