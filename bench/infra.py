"""The real parts a benchmark runs on: the broker (AMQP_URL or a local one) and a database."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from devtools.broker import LocalRabbitMQ, free_port
from devtools.postgres import LocalPostgres

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


@contextlib.contextmanager
def database_url(kind: str | None = None) -> Iterator[str]:
    """A fresh database: SQLite by default, PostgreSQL with ``BENCH_DB=postgresql``."""
    kind = kind or os.environ.get("BENCH_DB", "sqlite")
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.sqlite"
        return
    server = LocalPostgres(
        BENCH_DIR / f"postgres-{uuid.uuid4().hex[:6]}", port=free_port(), for_tests=True
    )
    server.start()
    try:
        server.create_database("bench")
        yield f"postgresql+asyncpg://postgres@/bench?host={server.socket_dir}&port={server.port}"
    finally:
        server.stop()


@contextlib.contextmanager
def postgres_server() -> Iterator[LocalPostgres | None]:
    """A PostgreSQL server for this run when ``BENCH_DB=postgresql``, else None (SQLite)."""
    if os.environ.get("BENCH_DB", "sqlite") != "postgresql":
        yield None
        return
    server = LocalPostgres(
        BENCH_DIR / f"postgres-{uuid.uuid4().hex[:6]}", port=free_port(), for_tests=True
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
