"""Preflight checks: every required service answers within seconds, or we say which not.

Used by the CLI before it starts work, so an unreachable broker, database or store ends
in exit 3 with its name instead of a hang.
"""

from __future__ import annotations

from timesheet_batch.context import FarmContext
from timesheet_batch.db.engine import check_database, get_engine
from timesheet_batch.db.migrate import upgrade_database
from timesheet_batch.errors import BrokerUnavailableError


def check_broker(url: str, *, timeout_s: float) -> None:
    """Raise BrokerUnavailableError if the broker does not answer within ``timeout_s``."""
    from timesheet_batch.celery_app import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
    except Exception as exc:  # kombu raises transport-specific errors; all mean "not reachable"
        raise BrokerUnavailableError(f"cannot reach the broker at {_redact(url)}: {exc}") from None


def _redact(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def preflight(ctx: FarmContext, *, broker: bool = True, migrate: bool = True) -> None:
    """Check storage, database (and migrate it) and, if asked, the broker."""
    timeout_s = ctx.settings.service_timeout_s
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
        from sqlalchemy import text

        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(727274)"))
            try:
                upgrade_database(url)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(727274)"))
                connection.commit()
        return
    upgrade_database(url)
