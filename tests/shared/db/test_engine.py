"""The PostgreSQL engine's pool: a connection the server closed is replaced at checkout."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.repository import _statements
from components.approval_desk.tables import define_desk_tables
from shared.db.engine import is_sqlite, make_engine, make_session_factory, statement_sessions


async def test_a_connection_the_server_closed_is_replaced_without_a_failed_request(
    database_url: str,
) -> None:
    if is_sqlite(database_url):
        pytest.skip("a pooled server connection exists on PostgreSQL only")
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    other = make_engine(database_url)
    try:
        async with sessions() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await session.rollback()
        # a restart or a failover, for this one connection: the server ends it while pooled
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        async with other.connect() as admin:
            assert (
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            ).scalar_one()
            while (await admin.execute(alive, {"pid": pid})).scalar_one():
                await asyncio.sleep(0.01)  # the service's loop runs meanwhile
        await asyncio.sleep(0.05)  # and reads the closed socket
        async with sessions() as session:
            new_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await session.rollback()
        assert new_pid != pid
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_burst_of_requests_keeps_the_pools_connections(database_url: str) -> None:
    """More sessions at once than the pool holds wait for one: no connection is opened for
    the burst and closed after it (a backend started, its prepared statements lost)."""
    if is_sqlite(database_url):
        pytest.skip("a pool of server connections exists on PostgreSQL only")
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    seen: set[int] = set()

    async def request() -> None:
        async with sessions() as session:
            pid = await session.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.02)"))
            seen.add(pid.scalar_one())
            await session.rollback()

    try:
        for _ in range(3):  # three bursts, each larger than the pool
            await asyncio.gather(*(request() for _ in range(2 * engine.pool.size())))  # type: ignore[attr-defined]
        assert len(seen) == engine.pool.size()  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_connection_keeps_more_prepared_statements_than_the_drivers_default(
    database_url: str,
) -> None:
    """Every length of an ``IN`` list is a statement of its own: past asyncpg's default cache
    of 100 each would be prepared again."""
    if is_sqlite(database_url):
        pytest.skip("prepared statements are PostgreSQL's")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            for length in range(1, 151):
                values = ", ".join(str(i) for i in range(length))
                await connection.execute(text(f"SELECT 1 AS probe WHERE 0 IN ({values})"))
            kept = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_prepared_statements"
                    " WHERE statement LIKE 'SELECT 1 AS probe %'"
                )
            )
            assert kept.scalar_one() == 150
    finally:
        await engine.dispose()


async def test_a_statement_keeps_finding_its_row_by_index_as_its_table_grows(
    database_url: str,
) -> None:
    """Each execution is planned from the table's current size (decision 0051): the desk's
    look-up of a task by its subject, prepared while the task table was small and analyzed
    as such (a new unit, a fresh deployment), still probes the unique index once the table
    has grown, before any new ANALYZE. A generic plan kept after five runs (PostgreSQL's
    ``plan_cache_mode=auto``) would scan the whole table: measured on the transfer path, the
    steps' UPDATE took 0.38 ms a row instead of 0.05."""
    if is_sqlite(database_url):
        pytest.skip("plan caching of prepared statements is PostgreSQL's")
    metadata = MetaData()
    tables = define_desk_tables(metadata)
    lookup = _statements(tables).find_subject
    engine = make_engine(database_url)
    unit = "410102"

    def params(i: int) -> dict[str, str]:
        return {"unit": unit, "kind": "transfer_step", "subject_id": str(uuid.UUID(int=i))}

    def rows(numbers: range) -> list[dict[str, Any]]:
        return [
            {
                **params(i),
                "task_id": str(uuid.UUID(int=10_000 + i)),
                "status": "open",
                "school_code": "4101020001",
                "item_count": 1,
                "finding_count": 0,
                "details": {},
                "opened_at": datetime(2026, 9, 1, tzinfo=UTC),
                "transfer_id": str(uuid.UUID(int=20_000 + i)),
                "due_on": date(2026, 9, 15),
            }
            for i in numbers
        ]

    try:
        async with engine.connect() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(tables.task), rows(range(5)))
            await connection.execute(text("ANALYZE desk_task"))
            for i in range(10):  # past the five runs after which a generic plan may be kept
                assert (await connection.execute(lookup, params(i % 5))).first() is not None
            await connection.execute(insert(tables.task), rows(range(5, 3000)))
            name, generic = (
                await connection.execute(
                    text(
                        "SELECT name, generic_plans FROM pg_prepared_statements"
                        " WHERE statement LIKE 'SELECT desk_task.task_id %'"
                    )
                )
            ).one()
            subject = str(uuid.UUID(int=2007))
            plan = (
                await connection.execute(
                    text(
                        f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name}"
                        f"('{unit}', 'transfer_step', '{subject}')"
                    )
                )
            ).scalar_one()
            await connection.rollback()
        root = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
        assert generic == 0
        assert root["Index Name"] == "uq_desk_task_subject"
        assert root.get("Rows Removed by Filter", 0) == 0
    finally:
        await engine.dispose()


async def _in_transaction(session: AsyncSession) -> bool:
    raw = await (await session.connection()).get_raw_connection()
    return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]


async def test_a_statement_session_runs_no_transaction_and_leaves_none_behind(
    database_url: str,
) -> None:
    """A read or a one-statement write (the relay's marks, a task list's version) costs no
    ``BEGIN`` and ``ROLLBACK`` round trips on PostgreSQL (decision 0056): its write is
    committed by the statement itself. The connection goes back to the pool as it came: the
    next ordinary session on it runs in a transaction again."""
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    statements = statement_sessions(sessions)
    if is_sqlite(database_url):
        assert statements is sessions  # in-process: no round trip to save
        await engine.dispose()
        return
    other = make_engine(database_url)
    try:
        async with sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE mark (id int PRIMARY KEY, sent boolean)"))
            await session.execute(text("INSERT INTO mark VALUES (1, false)"))
        async with statements() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert not await _in_transaction(session)
            await session.execute(text("UPDATE mark SET sent = true WHERE id = 1"))
            async with other.connect() as reader:  # committed before the session ends
                assert (await reader.execute(text("SELECT sent FROM mark"))).scalar_one()
        async with sessions() as session:  # the pool's one connection, back in a transaction
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid
            assert await _in_transaction(session)
            await session.execute(text("UPDATE mark SET sent = false WHERE id = 1"))
            await session.rollback()
        async with other.connect() as reader:
            assert (await reader.execute(text("SELECT sent FROM mark"))).scalar_one()
    finally:
        await engine.dispose()
        await other.dispose()
