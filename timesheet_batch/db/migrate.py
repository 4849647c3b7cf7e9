"""Run Alembic migrations programmatically (``timesheet-batch db upgrade``).

Migrations are their own step: workers never migrate on import.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from timesheet_batch.db.engine import _normalise, get_engine
from timesheet_batch.errors import SchemaNotCurrentError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats "%" as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", _normalise(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision``."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str:
    """The revision this code expects."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The schema's revision at ``url`` (None: an empty database). An embedded SQLite file that
    does not exist yet is not created by asking."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(url: str) -> None:
    """SchemaNotCurrentError unless the schema is at this code's head: a worker or a read-only
    command never migrates (``timesheet-batch db upgrade`` is its own step)."""
    current, head = current_revision(url), head_revision()
    if current != head:
        found = f"at revision {current}" if current else "empty"
        raise SchemaNotCurrentError(
            f"the database schema is {found}, this version needs {head}: run `timesheet-batch db upgrade`")
