"""Async engines for the two supported databases: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import Session

from shared.db.sqlite_inline import inline_module

SessionFactory = async_sessionmaker[AsyncSession]


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
    # Custom plans: asyncpg prepares every statement, and PostgreSQL would otherwise freeze a
    # generic plan after five runs - planned while a table (the inbox, the outbox) was still
    # empty, i.e. a sequential scan that is kept as the table grows to millions of rows.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )


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
