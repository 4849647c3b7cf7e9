"""The one settings object: every ``TIMESHEET_*`` environment variable is read here.

Nothing else in the package reads the environment. Values that are left unset derive from
``TIMESHEET_DATA_DIR`` so that, with no variable at all, everything runs embedded under
``./timesheet-data`` (SQLite, a file-system broker, local storage) with no server.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from timesheet_batch.errors import ConfigurationError

ENV_PREFIX = "TIMESHEET_"
DEV_MASKING_KEY = "dev-only-masking-key-change-me"
EMBEDDED_BROKER_SCHEME = "embedded"
PACKAGED_VENDORS_FILE = Path(__file__).parent / "vendors" / "sample_vendors.yaml"

_BROKER_SCHEMES = {EMBEDDED_BROKER_SCHEME, "redis", "rediss", "amqp", "amqps", "pyamqp"}
_DATABASE_SCHEMES = ("sqlite", "postgresql")
_STORAGE_SCHEMES = {"file", "s3"}


class Settings(BaseSettings):
    """Typed view of the ``TIMESHEET_*`` environment (see README, "Settings")."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path("./timesheet-data")
    broker_url: str | None = None
    result_backend: str | None = None
    database_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    vendors_file: Path | None = None
    timezone: str = "America/Los_Angeles"
    morning_cron: str = "0 6 * * *"
    nightly_cron: str = "0 22 * * *"
    chunk_size: int = Field(default=100_000, ge=100, le=5_000_000)  # fastest of 50k/100k/200k
    max_retries: int = Field(default=3, ge=0, le=50)
    masking_key: SecretStr = SecretStr(DEV_MASKING_KEY)
    service_timeout_s: float = Field(default=5.0, gt=0, le=120)
    #: How long a command that watches the farm (``run``, ``report --enqueue``) rides through a
    #: broker or database outage before it gives up with exit 3.
    outage_tolerance_s: float = Field(default=300.0, ge=0, le=86400)
    lease_s: float = Field(default=30.0, ge=3, le=3600)
    sweep_interval_s: float = Field(default=30.0, ge=1, le=3600)
    lost_after_s: float = Field(default=60.0, ge=1, le=86400)
    retry_backoff_s: float = Field(default=2.0, ge=0.01, le=3600)
    retry_backoff_cap_s: float = Field(default=120.0, ge=0.01, le=86400)
    shutdown_grace_s: float = Field(default=60.0, ge=0, le=3600)
    # Report schedules (five-field cron in TIMESHEET_TIMEZONE; validated by messaging/beat.py).
    daily_report_cron: str = "30 5 * * *"
    weekly_report_cron: str = "30 5 * * 1"
    monthly_report_cron: str = "30 5 1 * *"
    quarterly_report_cron: str = "30 5 1 1,4,7,10 *"
    yearly_report_cron: str = "30 5 1 1 *"
    #: Roles scheduled reports are generated for (comma-separated), one report per role.
    report_roles: str = Field(default="SUPERVISOR", pattern=r"^\s*[A-Za-z0-9_]+(\s*,\s*[A-Za-z0-9_]+)*\s*$")
    #: Report output formats (comma-separated subset of csv, json, xml).
    report_formats: str = Field(default="csv,json", pattern=r"^\s*(csv|json|xml)(\s*,\s*(csv|json|xml))*\s*$")
    #: Dependency rules (YAML); unset: the packaged timesheet_batch/reports/dependencies.yaml.
    dependencies_file: Path | None = None
    #: More job kinds: comma-separated modules that each register one (``jobs.kinds``), imported
    #: by every worker and command at start.
    job_kinds: str = Field(default="", pattern=r"^\s*([A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*)?\s*$")
    #: Retention (``timesheet-batch purge``, ``jobs/retention.py``): finished batches and jobs
    #: older than this many days go, with their rows and work files.
    retention_days: int = Field(default=90, ge=1, le=36_500)
    #: Beat's ``purge`` entry (five-field cron, validated by messaging/beat.py); unset: off.
    purge_cron: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        return _check_scheme(value, _BROKER_SCHEMES, "broker")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_DATABASE_SCHEMES):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("storage_url")
    @classmethod
    def _known_storage(cls, value: str | None) -> str | None:
        return _check_scheme(value, _STORAGE_SCHEMES, "storage")

    @model_validator(mode="after")
    def _no_dev_secret_in_prod(self) -> Settings:
        if self.env == "prod" and self.masking_key.get_secret_value() == DEV_MASKING_KEY:
            raise ValueError("TIMESHEET_MASKING_KEY must be set to a real secret when TIMESHEET_ENV=prod")
        return self

    # Derived values: the single place where defaults are computed.

    @property
    def report_role_names(self) -> list[str]:
        """``TIMESHEET_REPORT_ROLES`` as a list; each must be a role of the vendor file, as spelled
        there (checked with the vendor file, by ``context.check_report_roles``)."""
        return [role.strip() for role in self.report_roles.split(",") if role.strip()]

    @property
    def job_kind_modules(self) -> list[str]:
        return [name.strip() for name in self.job_kinds.split(",") if name.strip()]

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def effective_broker_url(self) -> str:
        # A host part keeps kombu from warning that none was supplied; it is not used.
        return self.broker_url or f"{EMBEDDED_BROKER_SCHEME}://localhost/"

    @property
    def is_embedded_broker(self) -> bool:
        return self.effective_broker_url.startswith(f"{EMBEDDED_BROKER_SCHEME}://")

    @property
    def embedded_broker_dir(self) -> Path:
        return self.data_path / "broker"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'timesheet.sqlite'}"

    @property
    def effective_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        broker = self.effective_broker_url
        if broker.startswith(("redis://", "rediss://")):
            return broker
        if self.is_embedded_broker and self.database_url is None:
            # A file of its own: result writes must not contend with job claims.
            return f"db+sqlite:///{self.data_path / 'celery-results.sqlite'}"
        return f"db+{self.effective_database_url}"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_path / 'storage'}"

    @property
    def effective_vendors_file(self) -> Path:
        return self.vendors_file or PACKAGED_VENDORS_FILE

    def today(self) -> dt.date:
        """The business date now, in the farm's time zone."""
        return dt.datetime.now(zoneinfo.ZoneInfo(self.timezone)).date()

    @property
    def beat_schedule_path(self) -> Path:
        return self.data_path / "celerybeat-schedule"


def _check_scheme(value: str | None, schemes: set[str], what: str) -> str | None:
    if value is None:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        raise ValueError(f"unsupported {what} URL scheme {scheme!r} (use one of {sorted(schemes)})")
    return value


def load_settings() -> Settings:
    """Read the environment; a bad value raises ConfigurationError naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            name = f"{ENV_PREFIX}{field.upper()}" if field else "TIMESHEET_* settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError("bad setting: " + "; ".join(problems)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings instance."""
    return load_settings()
