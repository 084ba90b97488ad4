"""The SQLite engine runs statements on the event loop's thread and behaves like aiosqlite did:
rows, row counts, RETURNING, executemany, transactions, constraint errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.db.engine import make_engine, make_session_factory

metadata = MetaData()
things = Table(
    "thing",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("n", Integer, nullable=False),
)


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.sqlite'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine, make_session_factory(engine)
    await engine.dispose()


async def test_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'thread.sqlite'}")
    # a SQL function answering the thread SQLite calls it on: the one running the statement
    event.listen(
        engine.sync_engine,
        "connect",
        lambda connection, _record: connection.create_function("thread_id", 0, threading.get_ident),
    )
    try:
        factory = make_session_factory(engine)
        async with factory() as session:
            ran_on = (await session.execute(select(func.thread_id()))).scalar_one()
    finally:
        await engine.dispose()
    assert ran_on == threading.get_ident()  # the event loop's, not a worker's


async def test_rows_counts_returning_and_executemany(sessions) -> None:  # type: ignore[no-untyped-def]
    _engine, factory = sessions
    async with factory() as session, session.begin():
        result = await session.execute(insert(things).values(name="a", n=1))
        assert result.inserted_primary_key == (1,)  # lastrowid
        await session.execute(insert(things), [{"name": f"m{i}", "n": i} for i in range(5)])
        changed = await session.execute(update(things).where(things.c.n < 3).values(n=10))
        assert changed.rowcount == 4  # type: ignore[attr-defined]
        returned = await session.execute(
            update(things).where(things.c.name == "m4").values(n=40).returning(things.c.id)
        )
        assert returned.scalars().all() == [6]
    async with factory() as session:
        rows = (await session.execute(select(things.c.name, things.c.n).order_by("id"))).all()
    assert [tuple(r) for r in rows] == [
        ("a", 10),
        ("m0", 10),
        ("m1", 10),
        ("m2", 10),
        ("m3", 3),
        ("m4", 40),
    ]


async def test_rollback_and_constraint_errors(sessions) -> None:  # type: ignore[no-untyped-def]
    _engine, factory = sessions
    async with factory() as session, session.begin():
        await session.execute(insert(things).values(name="kept", n=1))
    with pytest.raises(IntegrityError):
        async with factory() as session, session.begin():
            await session.execute(insert(things).values(name="lost", n=2))
            await session.execute(insert(things).values(name="kept", n=3))  # unique
    async with factory() as session:
        async with session.begin():
            await session.execute(insert(things).values(name="rolled back", n=4))
            await session.rollback()
        names = (await session.execute(select(things.c.name))).scalars().all()
    assert names == ["kept"]


async def test_core_connections_execute_too(sessions) -> None:  # type: ignore[no-untyped-def]
    """``AsyncConnection.execute`` insists the driver awaited: the inline driver does."""
    engine, _factory = sessions
    async with engine.begin() as connection:
        await connection.execute(insert(things).values(name="core", n=7))
    async with engine.connect() as connection:
        assert (await connection.execute(select(things.c.n))).scalar_one() == 7
