"""Engines and sessions: one engine per process and URL, rebuilt after a fork.

SQLite (embedded) runs in WAL mode with a busy timeout so several worker processes can
write; PostgreSQL gets a connect timeout so an unreachable server fails within seconds.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from timesheet_batch.errors import DatabaseUnavailableError

_engines: dict[tuple[int, str, bool], Engine] = {}
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")
_factories: dict[Engine, sessionmaker] = {}
#: A pooled PostgreSQL connection unused for this long is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def _normalise(url: str) -> str:
    # "postgresql://" would pick psycopg2; we ship psycopg 3.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def get_engine(url: str, *, connect_timeout_s: float = 5.0, relaxed: bool = False) -> Engine:
    """The engine for ``url`` in this process (a forked child never reuses its parent's).

    ``relaxed``: the engine behind ``autocommit_connection`` (its own pool: its
    connections carry ``synchronous_commit = off`` for their whole life).
    """
    key = (os.getpid(), url, relaxed)
    engine = _engines.get(key)
    if engine is None:
        engine = _create(_normalise(url), connect_timeout_s, relaxed)
        _engines[key] = engine
    return engine


def _create(url: str, connect_timeout_s: float, relaxed: bool) -> Engine:
    autocommit = {"isolation_level": "AUTOCOMMIT"} if relaxed else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, **autocommit)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict = {"connect_timeout": max(1, int(connect_timeout_s))}
    if relaxed:
        connect_args["options"] = "-c synchronous_commit=off"
    engine = create_engine(url, pool_size=2, max_overflow=4, connect_args=connect_args, **autocommit)
    # pool_pre_ping would ping on every checkout: a round trip on each of the 3 connections a
    # small job uses (~0.7 ms each on a busy 2-core machine). Ping only a connection that sat idle.
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record, _proxy) -> None:
    """Ping a pooled connection idle for PING_AFTER_IDLE_S or more; a dead one is replaced.

    A server that restarted while the connection was in use is caught differently: the next
    statement fails, SQLAlchemy invalidates the pool, and the caller gets the transient
    DatabaseUnavailableError and retries (as it would for an outage mid-job anyway).
    """
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_S:
        return  # just connected, or in use a moment ago
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as exc:  # noqa: BLE001 - any failure means a dead connection
        raise DisconnectionError(f"stale connection: {type(exc).__name__}") from exc
    if not alive:
        raise DisconnectionError("stale connection")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def dispose_engines() -> None:
    """Close and forget every engine of this process."""
    for (pid, _url, _relaxed), engine in list(_engines.items()):
        # A parent's engine in a forked child: drop its connections without closing them.
        engine.dispose(close=pid == os.getpid())
    _engines.clear()
    _factories.clear()


def _session_factory(url: str) -> sessionmaker:
    """One sessionmaker per engine: building one defines a Session subclass (~0.5 ms)."""
    engine = get_engine(url)
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(engine, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(url: str, *, durable: bool = True) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    Connection-level failures become DatabaseUnavailableError (transient), so callers and
    the retry policy never see driver exceptions.

    ``durable=False`` commits without waiting for PostgreSQL's WAL flush (``SET LOCAL
    synchronous_commit TO OFF``): the commit is visible to everyone at once and atomic as
    ever, but a server crash within about three ``wal_writer_delay`` (600 ms by default) may
    undo it. Only for writes whose loss the farm repairs by itself — claims, leases, progress
    (RELIABILITY.md, "What a database crash can undo"); a finish that records an error is durable.
    """
    session = _session_factory(url)()
    try:
        if not durable and session.get_bind().dialect.name == "postgresql":
            session.execute(_ASYNC_COMMIT)
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


@contextmanager
def autocommit_connection(url: str) -> Iterator[Connection]:
    """A connection whose every statement commits on its own, without waiting for the WAL flush.

    For the worker's single-statement writes and plain reads, where a transaction costs three
    or four round trips (BEGIN, SET LOCAL, the statement, COMMIT) — a fifth of a small file's
    time on a busy machine (BENCHMARKS.md). Each statement is as atomic as ever.

    It comes from the relaxed pool (``synchronous_commit = off`` for its whole life): for
    writes whose loss the farm repairs by itself (a claim, a lease renewal, a progress figure,
    a finish without an error row); a PostgreSQL crash within ~600 ms of one may undo it
    (RELIABILITY.md, "What a database crash can undo").
    """
    try:
        with get_engine(url, relaxed=True).connect() as connection:
            yield connection
    except OperationalError as exc:
        raise DatabaseUnavailableError(f"database error: {_first_line(exc)}") from exc


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
