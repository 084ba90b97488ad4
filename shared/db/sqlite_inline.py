"""SQLite statements executed on the event loop's thread (decision 0018).

SQLAlchemy's ``aiosqlite`` adapter sends every DB-API call (open a cursor, execute, fetch,
close, commit) to aiosqlite's worker thread and waits for the answer: four thread hops, and
as many GIL hand-overs, per statement. For our statements (an index lookup, a few rows
written, in a small WAL database) that hand-over costs several times the statement itself.

This DB-API module keeps aiosqlite for what is rare (connecting, closing) and runs statements,
commits and rollbacks directly on the connection, in the event loop's thread: a statement
costs what SQLite costs. The loop is blocked while a statement runs — microseconds for the
services' lookups, longer for a bulk import — which is the trade-off decision 0018 explains;
PostgreSQL (production) is not affected.

Use: ``create_async_engine("sqlite+aiosqlite://...", module=inline_module())``
(:func:`shared.db.engine.make_engine` does); docs/decisions/0018-sqlite-inline-statements.md.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(connection: sqlite3.Connection, operation: Any, parameters: Any, many: bool) -> Outcome:
    """One statement, start to end: (description, rows, rowcount, lastrowid)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


async def _run_awaited(
    connection: sqlite3.Connection, operation: Any, parameters: Any, many: bool
) -> Outcome:
    # Awaited, though it never suspends: AsyncConnection.execute insists that the driver
    # awaited something. Two greenlet switches; no trip through the event loop.
    return _run(connection, operation, parameters, many)


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor: the statement runs, and its rows are fetched, in ``execute``."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no aiosqlite cursor: no thread hop
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing is held open: the rows are buffered already

    def close(self) -> None:
        self._rows.clear()

    def _go(self, operation: Any, parameters: Any, many: bool) -> None:
        try:
            outcome = await_(_run_awaited(self._connection._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows else collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._go(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._go(operation, seq_of_parameters, True)


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's connection, its statements, commits and rollbacks run inline."""

    __slots__ = ()
    _cursor_cls = InlineCursor

    def commit(self) -> None:
        try:
            self._connection._conn.commit()
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        try:
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)


class InlineDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> InlineConnection:
        # Opened by aiosqlite's thread, used by the loop's: sqlite3 must allow it. Every use
        # after connecting is on the loop's thread, one at a time (one pooled connection).
        kw["check_same_thread"] = False
        opened = super().connect(*arg, **kw)
        return InlineConnection(self, opened._connection)


def inline_module() -> InlineDbapi:
    """The DB-API module to hand to ``create_async_engine(..., module=...)``."""
    return InlineDbapi(aiosqlite, sqlite3)
