"""Preflight checks: every required service answers within seconds, or we say which not.

Used by the CLI before it starts work, so an unreachable broker, database or store ends
in exit 3 with its name instead of a hang. It also registers the configured job kinds, so a
missing kind module is a configuration error (exit 2) before anything is touched.
"""

from __future__ import annotations

from sqlalchemy import text

from timesheet_batch import kinds
from timesheet_batch.cli.broker import check_broker
from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import check_database, get_engine
from timesheet_batch.db.migrate import upgrade_database


def preflight(ctx: FarmContext, *, broker: bool = True, migrate: bool = True) -> None:
    """Check storage, database (and migrate it) and, if asked, the broker."""
    timeout_s = ctx.settings.service_timeout_s
    kinds.load_configured(ctx.settings)
    ctx.storage.check()
    check_database(ctx.database_url, timeout_s=timeout_s)
    if migrate:
        apply_migrations(ctx.database_url)
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
