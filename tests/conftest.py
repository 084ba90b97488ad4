"""Session-wide infrastructure for the tests: a real RabbitMQ and a real PostgreSQL.

Both are started lazily, only when a test asks for them:

* ``broker`` / ``amqp_url``: ``AMQP_URL`` from the environment if set; otherwise a Docker
  RabbitMQ (testcontainers) when a Docker engine answers; otherwise a private
  ``LocalRabbitMQ`` (Debian's rabbitmq-server, installed by ``scripts/bootstrap.sh``).
* ``postgres``: a private ``LocalPostgres`` tuned for speed (fsync off). A missing
  PostgreSQL is an error, not a skip: ``make test`` installs it.
* ``database_url``: every test using it runs twice, on a fresh SQLite file and on a fresh
  PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import LocalRabbitMQ
from devtools.postgres import LocalPostgres

log = logging.getLogger(__name__)


def _docker_available() -> bool:
    if os.environ.get("XUEJI_TEST_DOCKER", "1") == "0":
        return False
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _docker_rabbitmq() -> Any | None:
    """A started testcontainers RabbitMQ, or None when that does not work here."""
    if not _docker_available():
        return None
    container_class: Any = None
    for module in ("testcontainers.community.rabbitmq", "testcontainers.rabbitmq"):
        with contextlib.suppress(ImportError):
            container_class = __import__(module, fromlist=["RabbitMqContainer"]).RabbitMqContainer
            break
    if container_class is None:
        return None
    try:
        container = container_class("rabbitmq:3.13-alpine")
        container.start()
    except Exception as exc:
        log.warning("Docker RabbitMQ failed (%s); using a local broker", exc)
        return None
    return container


def _container_url(container: Any) -> str:
    host = container.get_container_host_ip()
    port = container.get_exposed_port(5672)
    return f"amqp://guest:guest@{host}:{port}/"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRabbitMQ | Any | None]:
    """The session's broker: None with AMQP_URL, a testcontainers RabbitMQ, or LocalRabbitMQ."""
    if os.environ.get("AMQP_URL"):
        yield None
        return
    container = _docker_rabbitmq()
    if container is not None:
        try:
            yield container
        finally:
            container.stop()
        return
    local = LocalRabbitMQ.on_free_ports(tmp_path_factory.mktemp("rabbitmq"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def amqp_url(broker: LocalRabbitMQ | Any | None) -> str:
    if broker is None:
        return os.environ["AMQP_URL"]
    if isinstance(broker, LocalRabbitMQ):
        return broker.amqp_url
    return _container_url(broker)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A private PostgreSQL for the session (fsync off). Fails loudly if not installed."""
    # not under pytest's tmp dir: those are 0700 and the server runs as the postgres user
    base_dir = Path(tempfile.mkdtemp(prefix="xueji-test-pg-"))
    server = LocalPostgres.on_free_port(base_dir, for_tests=True)
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test (SQLAlchemy async URL)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite'}"
        return
    server: LocalPostgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)
