"""Engines and sessions: one engine per process and URL, rebuilt after a fork.

SQLite (embedded) runs in WAL mode with a busy timeout so several worker processes can
write; PostgreSQL gets a connect timeout so an unreachable server fails within seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from timesheet_batch.errors import DatabaseUnavailableError

_engines: dict[tuple[int, str], Engine] = {}


def _normalise(url: str) -> str:
    # "postgresql://" would pick psycopg2; we ship psycopg 3.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def get_engine(url: str, *, connect_timeout_s: float = 5.0) -> Engine:
    """The engine for ``url`` in this process (a forked child never reuses its parent's)."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = _create(_normalise(url), connect_timeout_s)
        _engines[key] = engine
    return engine


def _create(url: str, connect_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        connect_args={"connect_timeout": max(1, int(connect_timeout_s))},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def dispose_engines() -> None:
    """Close and forget every engine of this process."""
    for (pid, _url), engine in list(_engines.items()):
        # A parent's engine in a forked child: drop its connections without closing them.
        engine.dispose(close=pid == os.getpid())
    _engines.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    Connection-level failures become DatabaseUnavailableError (transient), so callers and
    the retry policy never see driver exceptions.
    """
    session = sessionmaker(get_engine(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise DatabaseUnavailableError(f"database error: {_first_line(exc)}") from exc
    except SQLAlchemyError:
        session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_database(url: str, *, timeout_s: float = 5.0) -> None:
    """Raise DatabaseUnavailableError (within about ``timeout_s``) if the database is down."""
    try:
        with get_engine(url, connect_timeout_s=timeout_s).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailableError(f"cannot reach the database: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return message.strip().splitlines()[0][:300] if message.strip() else type(exc).__name__
