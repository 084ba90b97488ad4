"""Session-wide infrastructure for the tests: a real RabbitMQ and a real PostgreSQL.

Both are started lazily, only when a test asks for them:

* ``broker`` / ``amqp_url``: ``AMQP_URL`` from the environment if set; otherwise a Docker
  RabbitMQ (testcontainers) when a Docker engine answers; otherwise a private
  ``LocalRabbitMQ`` (Debian's rabbitmq-server, installed by ``scripts/bootstrap.sh``).
* ``postgres``: a private ``LocalPostgres`` tuned for speed (fsync off). A missing
  PostgreSQL is an error, not a skip: ``make test`` installs it.
* ``database_url``: every test using it runs on a fresh SQLite file and on a fresh PostgreSQL
  database (``XUEJI_TEST_DB=sqlite`` or ``postgresql``: that one only); migrate it with
  ``tests.databases.migrate_to_head`` (a copy of a template migrated once per session).

Marks are given by what a test needs (``pytestmark`` in a conftest.py would mark nothing):
``broker`` to every test whose fixtures reach the broker, ``federation`` to every test of
``tests/integration`` and ``tests/console`` or using a ``federation`` fixture (the tiers as
separate processes), ``postgresql`` to every test on the PostgreSQL server. ``make check``
deselects all three.

Stopping the session by Ctrl-C, SIGTERM or SIGHUP runs the fixtures' clean-up (the broker and
the database are stopped), even when the interrupt lands where Python can only report it (it
is raised again before the next test); if pytest is killed outright, they die with it
(``devtools.processes``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from devtools.broker import LocalRabbitMQ
from devtools.postgres import LocalPostgres
from tests.databases import Templates, database_kinds, fresh_postgres_database, use_templates

log = logging.getLogger(__name__)

TESTS = Path(__file__).resolve().parent
BROKER_FIXTURES = frozenset({"broker", "amqp_url"})
PROCESS_DIRECTORIES = frozenset({"integration", "console"})  # the tiers as separate processes
PROCESS_FIXTURES = frozenset({"federation"})  # a running LocalFederation
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SELECTED_MARKS = pytest.StashKey[set[str]]()


# -- stopping ----------------------------------------------------------------------------------


_STOPPING: list[str] = []  # why the session was asked to stop, once it was


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for stop_signal in STOP_SIGNALS:  # a second signal must not cut the clean-up short
        signal.signal(stop_signal, signal.SIG_IGN)
    _STOPPING.append(f"{signal.Signals(signum).name} received: stopping the tests")
    raise KeyboardInterrupt(_STOPPING[0])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A stop signal whose interrupt Python could only report (it landed in a weakref callback
    or a ``__del__``, where an exception cannot propagate) stops the session here, before the
    next test, instead of being lost with the handler already ignoring further signals."""
    if _STOPPING:
        raise KeyboardInterrupt(_STOPPING[0])


def pytest_sessionstart(session: pytest.Session) -> None:
    """SIGTERM and SIGHUP stop the session the way Ctrl-C does: pytest's KeyboardInterrupt
    path, which still tears the session fixtures down (broker, database)."""
    if threading.current_thread() is threading.main_thread():
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, _interrupt)


# -- marks -------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        where = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        if (where and where[0] in PROCESS_DIRECTORIES) or fixtures & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.federation)
        if fixtures & BROKER_FIXTURES:
            item.add_marker(pytest.mark.broker)
        if "postgres" in fixtures:
            item.add_marker(pytest.mark.postgresql)


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[SELECTED_MARKS] = {
        mark.name for item in session.items for mark in item.iter_markers()
    }


def _require_selected(request: pytest.FixtureRequest, mark: str, what: str) -> None:
    """A session whose selection has no test marked ``mark`` must not start ``what``: a test
    that does asks for it in a way the marks cannot see (``request.getfixturevalue``)."""
    if mark not in request.config.stash.get(SELECTED_MARKS, {mark}):
        pytest.fail(
            f"a test started {what} although no selected test is marked `{mark}`: mark the "
            f"test that asks for it with @pytest.mark.{mark}"
        )


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
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRabbitMQ | Any | None]:
    """The session's broker: None with AMQP_URL, a testcontainers RabbitMQ, or LocalRabbitMQ."""
    _require_selected(request, "broker", "the broker")
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
def postgres(request: pytest.FixtureRequest) -> Iterator[LocalPostgres]:
    """A private PostgreSQL for the session (fsync off). Fails loudly if not installed."""
    _require_selected(request, "postgresql", "PostgreSQL")
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


@pytest.fixture(scope="session", autouse=True)
def _directory_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled school directories (shared/federation/directory.py) in the session's folder,
    not the machine's temporary one; the services the tests start inherit it."""
    before = os.environ.get("XUEJI_DIRECTORY_CACHE")
    os.environ["XUEJI_DIRECTORY_CACHE"] = str(tmp_path_factory.mktemp("directories"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XUEJI_DIRECTORY_CACHE", None)
        else:
            os.environ["XUEJI_DIRECTORY_CACHE"] = before


@pytest.fixture(scope="session", autouse=True)
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """Migrated templates, one per tier and kind of database, made when first needed."""
    templates = Templates(tmp_path_factory.mktemp("templates"))
    use_templates(templates)
    try:
        yield templates
    finally:
        use_templates(None)


@pytest.fixture(
    params=[
        pytest.param(kind, marks=[pytest.mark.postgresql] if kind == "postgresql" else [])
        for kind in database_kinds()
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test (SQLAlchemy async URL)."""
    with _fresh_database(request, request.param, tmp_path / "test.sqlite") as url:
        yield url


@pytest.fixture
def other_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A second fresh database of the same kind as ``database_url`` (another unit's own, or
    the same messages applied another way)."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with _fresh_database(request, kind, tmp_path / "other.sqlite") as url:
        yield url


@contextlib.contextmanager
def _fresh_database(request: pytest.FixtureRequest, kind: str, sqlite_file: Path) -> Iterator[str]:
    """A new database of ``kind``: the SQLite file, or one on the session's PostgreSQL server,
    dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{sqlite_file}"
        return
    server: LocalPostgres = request.getfixturevalue("postgres")
    url, name = fresh_postgres_database(server)
    try:
        yield url
    finally:
        server.drop_database(name)
