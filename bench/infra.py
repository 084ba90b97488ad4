"""The real parts a benchmark runs on: the broker (AMQP_URL or a local one) and a database.

A benchmark's PostgreSQL runs as production does (``devtools.postgres.PRODUCTION_SETTINGS``:
fsync, synchronous_commit and full_page_writes on, CloudNativePG's WAL settings) with
pg_stat_statements loaded; the test servers (tests/conftest.py) keep durability off for speed.
``BENCH_PG_DURABLE=0`` runs a benchmark on the test settings, for an A/B of what durability
costs, ``BENCH_PG_SETTINGS=name=value,...`` changes single settings; every benchmark prints
the settings it ran with (:func:`describe`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from devtools.broker import LocalRabbitMQ, free_port
from devtools.postgres import PRODUCTION_SETTINGS, STATEMENT_STATS, LocalPostgres

BENCH_DIR = Path(os.environ.get("XUEJI_BENCH_DIR", "var/bench"))


@contextlib.contextmanager
def amqp_url() -> Iterator[str]:
    """``AMQP_URL`` when set, else a broker of our own under var/bench for this run."""
    external = os.environ.get("AMQP_URL")
    if external:
        yield external
        return
    broker = LocalRabbitMQ(BENCH_DIR / "rabbitmq", port=free_port(), dist_port=free_port())
    broker.start()
    try:
        yield broker.amqp_url
    finally:
        broker.stop()


def bench_settings(*, durable: bool = True) -> dict[str, str]:
    """The server settings of a benchmark: production's (unless not ``durable``), then
    ``BENCH_PG_SETTINGS`` (``name=value,name=value``: an A/B of one setting), then
    pg_stat_statements."""
    overrides = dict(
        item.split("=", 1) for item in os.environ.get("BENCH_PG_SETTINGS", "").split(",") if item
    )
    return (PRODUCTION_SETTINGS if durable else {}) | overrides | STATEMENT_STATS


def bench_postgres() -> LocalPostgres:
    """A new server under var/bench with production's durability (unless BENCH_PG_DURABLE=0)."""
    durable = os.environ.get("BENCH_PG_DURABLE", "1") != "0"
    return LocalPostgres(
        BENCH_DIR / f"postgres-{uuid.uuid4().hex[:6]}",
        port=free_port(),
        for_tests=not durable,
        settings=bench_settings(durable=durable),
    )


def describe(server: LocalPostgres | None) -> str:
    """The database line of a report: SQLite, or the PostgreSQL settings it ran with."""
    if server is None:
        return "database: SQLite (embedded default)"
    return "database: " + server.describe_settings()


def load() -> str:
    """The machine's load averages (1, 5, 15 min) and cores, for every printed figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@contextlib.contextmanager
def database_url(kind: str | None = None) -> Iterator[str]:
    """A fresh database: SQLite by default, PostgreSQL with ``BENCH_DB=postgresql``."""
    kind = kind or os.environ.get("BENCH_DB", "sqlite")
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.sqlite"
        return
    server = bench_postgres()
    server.start()
    try:
        print(describe(server), flush=True)
        server.create_database("bench")
        yield f"postgresql+asyncpg://postgres@/bench?host={server.socket_dir}&port={server.port}"
    finally:
        discard(server)


@contextlib.contextmanager
def postgres_server() -> Iterator[LocalPostgres | None]:
    """A PostgreSQL server for this run when ``BENCH_DB=postgresql``, else None (SQLite)."""
    if os.environ.get("BENCH_DB", "sqlite") != "postgresql":
        yield None
        return
    server = bench_postgres()
    server.start()
    try:
        print(describe(server), flush=True)
        yield server
    finally:
        discard(server)


def discard(server: LocalPostgres) -> None:
    """Stop a benchmark's server and remove its data directory (a durable server's WAL alone
    is ~300 MB a run): nothing reads it after the run printed its figures."""
    server.stop()
    shutil.rmtree(server.base_dir, ignore_errors=True)
