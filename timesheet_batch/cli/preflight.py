"""Preflight checks: every required service answers within seconds, or we say which not.

Used by the CLI before it starts work, so an unreachable broker, database or store ends
in exit 3 with its name instead of a hang. Commands that only look never migrate the database
or create folders. It also registers the configured job kinds, so a
missing kind module is a configuration error (exit 2) before anything is touched.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from timesheet_batch import kinds
from timesheet_batch.cli.broker import check_broker
from timesheet_batch.context import FarmContext, ensure_embedded_storage
from timesheet_batch.db.engine import check_database, get_engine
from timesheet_batch.db.migrate import require_current_schema, upgrade_database
from timesheet_batch.errors import SchemaNotCurrentError


def preflight(ctx: FarmContext, *, broker: bool = True, migrate: bool = True) -> None:
    """Check storage, database and, if asked, the broker, for a command that does work: it
    creates the embedded default's folders and applies migrations (the quick start has no
    separate step). ``migrate=False``: a read-only command (see :func:`read_only_preflight`)."""
    if not migrate:
        read_only_preflight(ctx, broker=broker)
        return
    timeout_s = ctx.settings.service_timeout_s
    kinds.load_configured(ctx.settings)
    ensure_embedded_storage(ctx.settings)
    ctx.storage.check()
    check_database(ctx.database_url, timeout_s=timeout_s)
    apply_migrations(ctx.database_url)
    if broker:
        check_broker(ctx.settings.effective_broker_url, timeout_s=timeout_s)


def read_only_preflight(ctx: FarmContext, *, broker: bool = False) -> None:
    """For commands that only look (status, queue-status, dead-letter list, report tree): the
    database must answer and be at this code's schema; nothing is migrated or created."""
    timeout_s = ctx.settings.service_timeout_s
    kinds.load_configured(ctx.settings)
    url = ctx.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise SchemaNotCurrentError(f"no database at {url.removeprefix('sqlite:///')} yet: nothing has run with "
                                    "this TIMESHEET_DATA_DIR (or run `timesheet-batch db upgrade`)")
    check_database(url, timeout_s=timeout_s)
    require_current_schema(url)
    if broker:
        check_broker(ctx.settings.effective_broker_url, timeout_s=timeout_s)


def apply_migrations(url: str) -> None:
    """Apply migrations (serialised across processes on PostgreSQL)."""
    if url.startswith("postgresql"):
        # Two CLIs starting at once must not both run the same migration.
        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(727274)"))
            try:
                upgrade_database(url)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(727274)"))
                connection.commit()
        return
    upgrade_database(url)
