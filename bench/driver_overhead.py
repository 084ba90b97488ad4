"""What a statement and a transaction cost on PostgreSQL, through asyncpg alone and through
the layers the services use (SQLAlchemy Core, the ORM session), in CPU of the client process
and of the server, on this machine.

Issue 22 asks for under 30 ms of CPU per transfer in services and server; the transfer
benchmark spends ~38. This one says how much of a statement's and a transaction's cost is
the driver and the server, and how much the layers above them add: the share a transfer's
statements and transactions could save only by fewer of them or by thinner layers.

    python -m bench.driver_overhead [N]     (always PostgreSQL, production durability)

Each operation runs N times (default 3,000) after a warm-up, on one connection, one at a time
(no concurrency: a round trip's full cost, no queueing). The SQLAlchemy operations use the
services' own engine and session factory (``shared.db.engine``): the same pool, statement
cache and ``plan_cache_mode`` as in production; asyncpg alone gets the same server settings.
Prints the machine's load; figures only, no target.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import uvloop
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert

from bench.infra import bench_postgres, describe, discard, load
from bench.transfer_latency import cpu_seconds, own_cpu_seconds, postgres_pid
from shared.db.engine import (
    STATEMENT_CACHE,
    make_engine,
    make_session_factory,
    statement_sessions,
)

metadata = MetaData()
row = Table(
    "bench_row",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("value", String, nullable=False),
)
SELECT = select(row.c.value).where(row.c.id == bindparam("id"))
_UPSERT = insert(row).values(id=bindparam("id"), value=bindparam("value"))
UPSERT = _UPSERT.on_conflict_do_update(
    index_elements=[row.c.id], set_={"value": _UPSERT.excluded.value}
)
SELECT_SQL = "SELECT value FROM bench_row WHERE id = $1"
UPSERT_SQL = (
    "INSERT INTO bench_row (id, value) VALUES ($1, $2)"
    " ON CONFLICT (id) DO UPDATE SET value = excluded.value"
)
VALUE = "x" * 60
ROWS = 1000  # the table the operations read and write


@dataclass
class Figure:
    name: str
    round_trips: int  # per operation
    client_us: float
    server_us: float
    wall_us: float


async def measure(
    name: str, round_trips: int, op: Callable[[int], Awaitable[Any]], n: int, server: int
) -> Figure:
    for i in range(min(n, 300)):  # warm-up: statements prepared, caches filled
        await op(i)
    wall, mine, theirs = time.perf_counter(), own_cpu_seconds(), cpu_seconds(server, tree=True)
    for i in range(n):
        await op(i)
    wall = time.perf_counter() - wall
    mine = own_cpu_seconds() - mine
    theirs = cpu_seconds(server, tree=True) - theirs
    return Figure(name, round_trips, mine / n * 1e6, theirs / n * 1e6, wall / n * 1e6)


async def run(url: str, server: int, n: int) -> list[Figure]:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(UPSERT, [{"id": i, "value": VALUE} for i in range(ROWS)])
    sessions = make_session_factory(engine)
    statements = statement_sessions(sessions)
    raw = await asyncpg.connect(
        url.replace("postgresql+asyncpg", "postgresql"),
        server_settings={"plan_cache_mode": "force_custom_plan"},
        statement_cache_size=STATEMENT_CACHE,
    )
    figures = []
    try:

        async def raw_select(i: int) -> None:
            await raw.fetchval(SELECT_SQL, i % ROWS)

        async def raw_transaction(i: int) -> None:
            async with raw.transaction():
                await raw.execute(UPSERT_SQL, i % ROWS, VALUE)

        figures.append(await measure("asyncpg: a SELECT by key", 1, raw_select, n, server))
        figures.append(
            await measure(
                "asyncpg: BEGIN, an INSERT … ON CONFLICT, COMMIT", 3, raw_transaction, n, server
            )
        )
        async with engine.connect() as connection:

            async def core_select(i: int) -> None:
                await connection.execute(SELECT, {"id": i % ROWS})

            figures.append(
                await measure(
                    "SQLAlchemy Core: the SELECT, connection open", 1, core_select, n, server
                )
            )
        async with sessions() as session:

            async def orm_select(i: int) -> None:
                await session.execute(SELECT, {"id": i % ROWS})

            figures.append(
                await measure("ORM session: the SELECT, session open", 1, orm_select, n, server)
            )
            await session.commit()

        async def orm_transaction(i: int) -> None:
            async with sessions() as session:
                await session.execute(UPSERT, {"id": i % ROWS, "value": VALUE})
                await session.commit()

        async def statement_session(i: int) -> None:
            async with statements() as session:
                await session.execute(UPSERT, {"id": i % ROWS, "value": VALUE})
                await session.commit()

        figures.append(
            await measure(
                "ORM session: opened, BEGIN, the INSERT, COMMIT, closed",
                3,
                orm_transaction,
                n,
                server,
            )
        )
        figures.append(
            await measure(
                "ORM statement session (decision 0056): the INSERT alone",
                1,
                statement_session,
                n,
                server,
            )
        )
    finally:
        await raw.close()
        await engine.dispose()
    return figures


def report(figures: list[Figure], n: int) -> None:
    print(f"driver overhead, {n:,} of each operation, one at a time ({load()}):")
    print(f"  {'operation':58s} {'trips':>5s} {'client':>8s} {'server':>8s} {'wall':>8s}  (µs)")
    for f in figures:
        print(
            f"  {f.name:58s} {f.round_trips:5d} {f.client_us:8.0f} {f.server_us:8.0f}"
            f" {f.wall_us:8.0f}"
        )
    raw_select, raw_tx, core, orm, orm_tx, single = (f.client_us for f in figures)
    print(
        f"  a statement: asyncpg {raw_select:.0f} µs of the client's CPU; SQLAlchemy Core adds"
        f" {core - raw_select:.0f}, the ORM session {orm - raw_select:.0f}"
    )
    print(
        f"  a transaction of one statement: asyncpg {raw_tx:.0f} µs; the services' session"
        f" {orm_tx:.0f} ({orm_tx - raw_tx:+.0f}); without BEGIN and COMMIT {single:.0f}"
    )


async def main(n: int = 3000) -> None:
    server = bench_postgres()
    server.start()
    try:
        print(describe(server), flush=True)
        pid = postgres_pid(server)
        assert pid is not None, "the server's postmaster.pid names its process"
        server.create_database("bench")
        url = f"postgresql+asyncpg://postgres@/bench?host={server.socket_dir}&port={server.port}"
        figures = await run(url, pid, n)
    finally:
        discard(server)
    report(figures, n)


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))  # the services' loop
