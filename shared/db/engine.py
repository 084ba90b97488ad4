"""Async engines for the two supported databases: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import Session

from shared.db.sqlite_inline import inline_module

SessionFactory = async_sessionmaker[AsyncSession]

# Prepared statements kept per PostgreSQL connection (the asyncpg dialect's default is 100). A
# service runs more distinct statements than that: every length of an expanding ``IN`` list
# and of a multi-row ``VALUES`` is a statement of its own, and national ran 212 under the
# transfer benchmark's load. Past the cache each is prepared again: a round trip and a parse.
STATEMENT_CACHE = 1000


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the engine for ``url``.

    SQLite gets one pooled connection: it has a single writer anyway, and one connection per
    process rules out "database is locked" upgrades between our own connections (see
    docs/decisions/0002-sqlite-single-connection.md). WAL keeps readers of other processes
    (operator tools) unblocked. Its statements run on the event loop's thread, not through
    aiosqlite's worker thread (docs/decisions/0018-sqlite-inline-statements.md).
    """
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": 30},
            module=inline_module(),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Custom plans (decision 0051): asyncpg prepares every statement, and PostgreSQL would
    # otherwise keep a generic plan after five runs, made from the statistics of the moment: a
    # table analyzed while small (a queue, a new unit's tasks, a fresh deployment) keeps its
    # sequential scan as it grows until the next ANALYZE. A custom plan is made at each
    # execution from the table's current size; measured, that planning costs less than what
    # the kept plans lost.
    # No pool_pre_ping: on asyncpg it is three round trips (BEGIN, an empty query, ROLLBACK)
    # on every checkout, i.e. every transaction. A connection the server closed (a restart, a
    # failover, pg_terminate_backend) is seen by asyncpg's protocol as soon as the socket
    # closes, so the checkout asks it locally instead (_drop_closed); pool_recycle bounds the
    # life of one a middlebox dropped silently, which a ping would only have hung on.
    # A pool of 20 without overflow: an overflow connection is closed as soon as it is
    # returned, so a burst of requests opened and closed connections (a backend each, its
    # prepared statements lost) in the middle of the load; the same 20 are now kept.
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=20,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={
            "server_settings": {"plan_cache_mode": "force_custom_plan"},
            "prepared_statement_cache_size": STATEMENT_CACHE,
        },
    )
    event.listen(engine.sync_engine, "checkout", _drop_closed)
    return engine


def _drop_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed: the pool opens a new one instead.

    The check costs no round trip (asyncpg's ``is_closed``: the socket's state as the event
    loop last saw it); a connection that breaks later fails its statement, and SQLAlchemy then
    invalidates it and every older connection of the pool (its disconnect handling).
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions of a class of their own, so session events can target just this factory."""
    session_class = type("XuejiSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)


def statement_sessions(sessions: SessionFactory) -> SessionFactory:
    """Sessions of ``sessions``' class in which every statement commits on its own: for reads,
    and for a write that is one statement (decision 0056).

    On PostgreSQL their connections run in autocommit: no ``BEGIN`` before the first statement
    and no ``COMMIT`` or ``ROLLBACK`` after the last, two round trips fewer per session. A
    read loses nothing by it: at READ COMMITTED, PostgreSQL's default and ours, every statement
    of a transaction takes a snapshot of its own anyway. Never for several writes that must
    commit together. On SQLite (in-process, no round trips) they are ``sessions`` themselves.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        return sessions
    options = {key: value for key, value in sessions.kw.items() if key != "bind"}
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), **options)
