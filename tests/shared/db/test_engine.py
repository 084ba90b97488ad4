"""The PostgreSQL engine's pool: a connection the server closed is replaced at checkout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db.engine import is_sqlite, make_engine, make_session_factory


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
