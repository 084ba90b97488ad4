"""The local infrastructure: a real RabbitMQ node, a real PostgreSQL, the process launcher, and
what is left of them when the test session or the launcher is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pika
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.broker import LocalRabbitMQ, free_port
from devtools.launcher import Backoff, FederationError, LocalFederation
from devtools.postgres import LocalPostgres
from devtools.testing import federation_copy, instance_name
from shared.db.migrate import upgrade
from shared.federation.config import Instance, load_federation
from shared.messaging.keys import load_trust_file
from tests.databases import migrate_to_head

# -- RabbitMQ ----------------------------------------------------------------------------------


def _roundtrip(url: str, queue: str, body: bytes | None) -> bytes | None:
    """Optionally publish ``body`` persistently to durable ``queue``, then get one message."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        if body is not None:
            channel.confirm_delivery()
            channel.basic_publish(
                "", queue, body, pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
            )
        _, _, received = channel.basic_get(queue, auto_ack=True)
        if body is not None and received is None:  # not routed yet; once more
            time.sleep(0.1)
            _, _, received = channel.basic_get(queue, auto_ack=True)
        return bytes(received) if received is not None else None
    finally:
        connection.close()


@pytest.mark.broker
def test_local_rabbitmq_starts_accepts_amqp_and_restarts(tmp_path: Path) -> None:
    broker = LocalRabbitMQ.on_free_ports(tmp_path / "rabbitmq")
    try:
        broker.start()
        assert broker.is_running()
        assert broker.amqp_url == f"amqp://guest:guest@127.0.0.1:{broker.port}/"
        assert _roundtrip(broker.amqp_url, "infra-check", b"ping") == b"ping"

        # a second start() reuses the running node
        started = time.monotonic()
        LocalRabbitMQ(tmp_path / "rabbitmq", broker.port, broker.dist_port).start()
        assert time.monotonic() - started < 2

        # a durable queue and a persistent message survive a restart
        connection = pika.BlockingConnection(pika.URLParameters(broker.amqp_url))
        channel = connection.channel()
        channel.queue_declare("infra-durable", durable=True)
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            "infra-durable",
            b"kept",
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
        )
        connection.close()
        broker.restart()
        assert broker.is_running()
        assert _roundtrip(broker.amqp_url, "infra-durable", None) == b"kept"
    finally:
        broker.stop()
    assert not broker.is_running()
    assert (tmp_path / "rabbitmq" / "log" / f"{broker.nodename}.log").exists()


# -- PostgreSQL --------------------------------------------------------------------------------


async def test_local_postgres_creates_and_drops_a_database(postgres: LocalPostgres) -> None:
    url = postgres.create_database("infra_check")
    assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/infra_check"
    connection = await asyncpg.connect(postgres.dsn("infra_check"))
    try:
        await connection.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        await connection.execute("INSERT INTO t VALUES (1, '学籍')")
        assert await connection.fetchval("SELECT name FROM t WHERE id = 1") == "学籍"
        assert await connection.fetchval("SHOW fsync") == "off"  # for_tests=True
    finally:
        await connection.close()
    assert postgres.database_exists("infra_check")
    postgres.drop_database("infra_check")
    assert not postgres.database_exists("infra_check")


async def test_database_url_is_fresh_and_usable(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE fresh (id integer PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO fresh VALUES (1)"))
            assert await connection.scalar(text("SELECT count(*) FROM fresh")) == 1
    finally:
        await engine.dispose()


def _describe(connection: Connection) -> dict[str, object]:
    inspector = inspect(connection)
    tables = {}
    for table in inspector.get_table_names():
        tables[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
            sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        )
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return {"tables": tables, "revision": revision}


async def _schema(url: str) -> dict[str, object]:
    """Tables with their columns, indexes, unique constraints, and the Alembic revision."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_describe)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("tier", ["national", "province", "county", "school"])
async def test_a_database_from_the_template_is_the_one_alembic_makes(
    tier: str, database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """migrate_to_head copies a template migrated once per session: the copy has the schema
    (tables, columns, indexes, constraints, revision) of a database migrated from scratch."""
    server: LocalPostgres | None = None
    if database_url.startswith("sqlite"):
        reference = f"sqlite+aiosqlite:///{tmp_path / 'reference.sqlite'}"
    else:
        server = request.getfixturevalue("postgres")
        reference = server.create_database(f"reference_{tier}")
    try:
        await asyncio.to_thread(upgrade, tier, reference)
        await asyncio.to_thread(migrate_to_head, tier, database_url)
        copied, migrated = await _schema(database_url), await _schema(reference)
    finally:
        if server is not None:
            server.drop_database(f"reference_{tier}")
    assert copied["tables"] and copied == migrated


# -- launcher ----------------------------------------------------------------------------------

FAKE_SERVICE = textwrap.dedent(
    """
    # A stand-in for `python -m services.<tier>`: serves /readyz, /healthz and /env, leaves a
    # grandchild.
    import argparse, json, os, signal, subprocess, sys, tomllib
    from http.server import BaseHTTPRequestHandler, HTTPServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--instance")
    args = parser.parse_args()
    with open(args.config, "rb") as handle:
        config = tomllib.load(handle)
    me = next(i for i in config["instance"] if i["name"] == args.instance)
    if os.environ.get("FAKE_CRASH") == args.instance:
        print("fake service crashing on purpose", flush=True)
        sys.exit(3)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/readyz":
                body = b"ok"
            elif self.path == "/healthz":  # FAKE_IMPOSTOR: another instance holds its port
                impostor = os.environ.get("FAKE_IMPOSTOR") == args.instance
                named = "someone-else" if impostor else args.instance
                body = json.dumps({"status": "ok", "instance": named}).encode()
            elif self.path == "/env":
                body = json.dumps({
                    "instance": args.instance,
                    "pid": os.getpid(),
                    "grandchild": grandchild.pid,
                    "env": {k: v for k, v in os.environ.items() if k.startswith("XUEJI_")},
                }).encode()
            else:
                self.send_response(404); self.end_headers(); return
            self.send_response(200); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a):
            pass

    server = HTTPServer((me.get("host", "127.0.0.1"), me["port"]), Handler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(f"fake {args.instance} listening on {me['port']}", flush=True)
    server.serve_forever()
    """
)


@pytest.fixture
def fake_federation(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    fake = tmp_path / "fake_service.py"
    fake.write_text(FAKE_SERVICE)
    config = tmp_path / "federation.toml"
    config.write_text(
        textwrap.dedent(f"""
        [[province]]
        code = "41"
        name = "河南省"

        [[county]]
        code = "410102"
        name = "郑州市中原区"
        province = "41"

        [[instance]]
        name = "national"
        tier = "national"
        port = {free_port()}
        units = ["CN"]

        [[instance]]
        name = "county-41"
        tier = "county"
        port = {free_port()}
        units = ["410102"]
    """)
    )
    yield config, fake


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait_dead(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.federation
def fake_launcher(
    fake_federation: tuple[Path, Path], data_dir: Path, **options: Any
) -> LocalFederation:
    """A launcher that starts the fake service for every instance (no broker behind port 1)."""
    config, fake = fake_federation

    def command_for(instance: Instance) -> list[str]:
        return [sys.executable, str(fake), "--config", str(config), "--instance", instance.name]

    return LocalFederation(
        config, data_dir, "amqp://guest:guest@127.0.0.1:1/", command_for=command_for, **options
    )


def test_launcher_starts_describes_and_stops_instances(
    fake_federation: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    federation = fake_launcher(
        fake_federation,
        data_dir,
        database_url_for=lambda name: f"sqlite+aiosqlite:///{data_dir}/{name}.db",
        extra_env={"XUEJI_EXTRA": "yes"},
    )
    with federation:
        described = json.loads((data_dir / "federation.json").read_text())
        assert described == {
            "broker": {"amqp_url": "amqp://guest:guest@127.0.0.1:1/"},
            "keys_dir": str(data_dir / "keys"),
            "instances": [
                {
                    "name": "national",
                    "tier": "national",
                    "units": ["CN"],
                    "base_url": federation.base_url("national"),
                },
                {
                    "name": "county-41",
                    "tier": "county",
                    "units": ["410102"],
                    "base_url": federation.base_url("county-41"),
                },
            ],
        }
        assert federation.instance_for_unit("county", "410102").name == "county-41"
        assert "county-41" in federation.table()

        seen = {}
        for name in ("national", "county-41"):
            seen[name] = httpx.get(federation.base_url(name) + "/env").json()
        assert seen["county-41"]["env"] == {
            "XUEJI_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/",
            "XUEJI_DATA_DIR": str(data_dir),
            "XUEJI_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir}/county-41.db",
            # the session's folder of compiled school directories (tests/conftest.py), inherited
            "XUEJI_DIRECTORY_CACHE": os.environ["XUEJI_DIRECTORY_CACHE"],
            "XUEJI_EXTRA": "yes",
            "XUEJI_SIGNING_KEY_FILE": str(data_dir / "keys" / "county-41.key"),
            "XUEJI_TRUSTED_KEYS_FILE": str(data_dir / "keys" / "trusted-keys.toml"),
        }
        # a private key per instance, its owner's only; one trust file with every public key
        for name in ("national", "county-41"):
            assert stat.S_IMODE((data_dir / "keys" / f"{name}.key").stat().st_mode) == 0o600
        trust = load_trust_file(data_dir / "keys" / "trusted-keys.toml")
        assert {(k.instance, k.tier, k.units) for k in trust} == {
            ("national", "national", frozenset({"CN"})),
            ("county-41", "county", frozenset({"410102"})),
        }
        assert "fake county-41 listening" in (data_dir / "logs" / "county-41.log").read_text()

        # kill one (SIGKILL leaves its grandchild: kill() targets the whole process group)
        old_pid = federation.pid("county-41")
        assert old_pid == seen["county-41"]["pid"]
        federation.kill("county-41")
        assert not federation.is_running("county-41")
        assert federation.returncode("county-41") == -signal.SIGKILL
        assert _wait_dead(seen["county-41"]["grandchild"])
        federation.start_instance("county-41")
        assert federation.pid("county-41") != old_pid
        federation.restart_instance("national")
        assert federation.pid("national") != seen["national"]["pid"]
        assert _wait_dead(seen["national"]["pid"])

        now = {n: httpx.get(federation.base_url(n) + "/env").json() for n in seen}
        pids = [pid for info in now.values() for pid in (info["pid"], info["grandchild"])]
        assert all(_alive(pid) for pid in pids)

    # no orphans: every instance and every grandchild is gone
    assert all(_wait_dead(pid) for pid in pids)
    assert not federation.is_running("national")


@pytest.mark.federation
def test_launcher_reports_a_crashing_instance_and_cleans_up(
    fake_federation: tuple[Path, Path], tmp_path: Path
) -> None:
    federation = fake_launcher(
        fake_federation, tmp_path / "var", extra_env={"FAKE_CRASH": "county-41"}
    )
    with pytest.raises(FederationError, match="crashing on purpose"):
        federation.start(timeout=20)
    assert not federation.is_running("national")
    assert not (tmp_path / "var" / "federation.json").exists()
    assert federation.pid("national") is not None
    assert _wait_dead(federation.pid("national") or 0)


@pytest.mark.federation
def test_launcher_waits_for_the_instance_itself_not_whoever_holds_its_port(
    fake_federation: tuple[Path, Path], tmp_path: Path
) -> None:
    """A port picked free may be taken before the instance binds it; whoever holds it may
    answer ``/readyz``. The launcher takes an instance as ready only once ``/healthz`` names it."""
    federation = fake_launcher(
        fake_federation, tmp_path / "var", extra_env={"FAKE_IMPOSTOR": "county-41"}
    )
    with pytest.raises(FederationError, match="not ready after 3 s: county-41"):
        federation.start(timeout=3)
    assert not federation.is_running("county-41")


def test_free_ports_are_below_the_outgoing_range_and_never_handed_out_twice() -> None:
    """An outgoing connection cannot take a port picked for a server a moment later (CI saw a
    county of the console's federation fail to bind one)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10_000 <= port < low for port in ports)


@pytest.mark.federation
def test_supervision_restarts_a_dead_instance_with_growing_back_off(
    fake_federation: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``make run`` does every half second: a dead instance starts again after 1, 2, 4 …
    back-off units, and from 1 again once it had run for the healthy period."""
    federation = fake_launcher(
        fake_federation, tmp_path / "var", backoff=Backoff(initial=1.0, cap=4.0, healthy_after=60.0)
    )
    caplog.set_level("INFO", logger="devtools.launcher")
    with federation:
        assert federation.supervise() == []  # all alive: nothing to do

        delays = []
        for _ in range(4):  # crashes in a row: 1, 2, 4, then the cap
            first = federation.pid("county-41")
            federation.kill("county-41")
            now = time.monotonic()
            assert federation.supervise(now) == []  # noticed, not yet restarted
            delay = next(d for d in (1.0, 2.0, 4.0, 8.0) if federation.supervise(now + d))
            delays.append(delay)
            assert federation.pid("county-41") != first
        assert delays == [1.0, 2.0, 4.0, 4.0]
        assert "instance county-41 exited with signal SIGKILL; restarting in 4 s" in caplog.text

        # it answers again, as itself
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(federation.base_url("county-41") + "/env").json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, federation.log_tail("county-41")
                time.sleep(0.1)
        assert answer["pid"] == federation.pid("county-41")
        assert federation.is_running("national")

        # after a healthy period the next crash starts the count again
        federation.kill("county-41")
        later = time.monotonic() + 60.0
        assert federation.supervise(later) == []
        assert federation.supervise(later + 1.0) == ["county-41"]


# -- stopping: nothing outlives the test session or the launcher ------------------------------


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (tells a process from a later one with its pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every live process below ``root``: pid -> start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, int] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        started = _start_time(pid)
        if started is not None:
            found[pid] = started
            pending += children.get(pid, [])
    return found


def _survivors(processes: dict[int, int], timeout: float) -> dict[int, str]:
    """Those of ``processes`` still alive after up to ``timeout`` s: pid -> command line."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {pid: at for pid, at in processes.items() if _start_time(pid) == at}
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    lines = {}
    for pid in alive:
        with contextlib.suppress(OSError):
            lines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return lines


def _wait_for(path: Path, process: subprocess.Popen[bytes], output: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, output.read_text(errors="replace")[-4000:]
        assert time.monotonic() < deadline, output.read_text(errors="replace")[-4000:]
        time.sleep(0.2)


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "XUEJI_AMQP_URL")}
    env.update(XUEJI_TEST_DOCKER="0", PYTHONPATH=str(ROOT), **extra)
    return env


ROOT = Path(__file__).resolve().parents[2]


def _a_session_of(test_file: Path) -> list[str]:
    """A pytest session with this suite's conftest running ``test_file`` alone, its
    ``pytest.ini`` and temporary folders beside it."""
    folder = test_file.parent
    (folder / "pytest.ini").write_text("[pytest]\n")
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "-c",
        str(folder / "pytest.ini"),
        "--basetemp",
        str(folder / "basetemp"),
        "-q",
        str(test_file),
    ]


HOLDING_TEST = textwrap.dedent(
    """
    import os, time
    from pathlib import Path

    def test_holds_the_broker_and_the_database(amqp_url, postgres):
        Path(os.environ["HOLDING"]).write_text(amqp_url)
        time.sleep(600)
    """
)


@pytest.mark.federation
@pytest.mark.parametrize(
    "stop",
    [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
    ids=lambda stop: stop.name,
)
def test_a_stopped_test_session_leaves_no_broker_and_no_database(
    stop: signal.Signals, tmp_path: Path
) -> None:
    """A pytest session (this suite's conftest) holding the session's RabbitMQ and PostgreSQL
    is stopped: none of the processes it started survives it."""
    (tmp_path / "test_holding.py").write_text(HOLDING_TEST)
    holding, output = tmp_path / "holding", tmp_path / "output.log"
    with output.open("wb") as sink:
        session = subprocess.Popen(
            _a_session_of(tmp_path / "test_holding.py"),
            cwd=ROOT,
            env=_environment(HOLDING=str(holding)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(holding, session, output, timeout=180)
        started = _descendants(session.pid)
        commands = " ".join(_survivors(started, 0).values())
        assert "rabbitmq" in commands and "postgres" in commands, commands
        session.send_signal(stop)
        session.wait(timeout=180)
    finally:
        if session.poll() is None:
            session.kill()
    assert _survivors(started, timeout=90) == {}, output.read_text(errors="replace")[-4000:]
    if stop != signal.SIGKILL:  # stopped the way Ctrl-C stops it, clean-up included
        assert session.returncode == pytest.ExitCode.INTERRUPTED, output.read_text()[-4000:]


SWALLOWING_TEST = textwrap.dedent(
    """
    import os, signal, time, weakref
    from pathlib import Path

    class Held:
        pass

    def test_the_signal_lands_inside_a_weakref_callback():
        held = Held()

        def callback(_ref):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here: what it raises Python can only report

        reference = weakref.ref(held, callback)
        del held
        assert reference() is None

    def test_after_the_signal():
        Path(os.environ["RAN"]).write_text("the session went on")
    """
)


def test_a_stop_signal_python_could_not_raise_still_stops_the_session(tmp_path: Path) -> None:
    """A SIGTERM whose KeyboardInterrupt lands in a weakref callback (Python reports it as
    unraisable and goes on) still stops the session, before its next test: the interrupt is
    raised again there, and a CI runner's ``timeout`` is obeyed."""
    (tmp_path / "test_swallowing.py").write_text(SWALLOWING_TEST)
    ran = tmp_path / "ran"
    result = subprocess.run(
        _a_session_of(tmp_path / "test_swallowing.py"),
        cwd=ROOT,
        env=_environment(RAN=str(ran)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert not ran.exists(), output[-3000:]
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "SIGTERM received: stopping the tests" in output, output[-3000:]


@pytest.mark.federation
def test_make_run_restarts_a_killed_service_and_sigterm_stops_everything(tmp_path: Path) -> None:
    """``python -m devtools`` (``make run``) with its own broker: a service killed with SIGKILL
    answers again after its back-off; SIGTERM then stops the services and the broker."""
    config = federation_copy(tmp_path / "config", instances={"national", "county-41"})
    county = instance_name(config, "county-41")
    where = load_federation(config).instance(county)
    url = f"http://{where.host}:{where.port}"
    data_dir, output = tmp_path / "var", tmp_path / "output.log"
    with output.open("wb") as sink:
        launcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools",
                "--config",
                str(config),
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            env=_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(data_dir / "federation.json", launcher, output, timeout=300)
        before = _instance_pid(launcher.pid, county)
        os.kill(before, signal.SIGKILL)

        deadline = time.monotonic() + 180
        while True:  # until the county answers again, from a new process
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    after = _instance_pid(launcher.pid, county)
                    if after != before:
                        break
            assert launcher.poll() is None, output.read_text()[-4000:]
            assert time.monotonic() < deadline, output.read_text()[-4000:]
            time.sleep(0.2)
        said = output.read_text()
        assert f"instance {county} exited with signal SIGKILL; restarting in 1 s" in said
        assert f"restarted {county} (pid {after}" in said

        everything = _descendants(launcher.pid)
        commands = " ".join(_survivors(everything, 0).values())
        assert "rabbitmq" in commands and county in commands, commands
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=180) == 0, output.read_text()[-4000:]
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert _survivors(everything, timeout=60) == {}, output.read_text()[-4000:]
    assert "SIGTERM received: stopping" in output.read_text()


def _instance_pid(launcher: int, instance: str) -> int:
    """The pid of the launcher's child that runs ``instance``."""
    for pid in _descendants(launcher):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"--instance" in command and instance.encode() in command:
                return pid
    raise AssertionError(f"no process runs {instance}")


@pytest.mark.postgresql
def test_a_benchmark_postgres_is_as_durable_as_production() -> None:
    """bench/infra.py's server runs with production's durability and WAL settings, and says
    so; a test server (``for_tests``) does not, and says that too."""
    from bench.infra import bench_postgres, describe

    server = bench_postgres()
    server.start()
    try:
        shown = server.show()
        for name in ("fsync", "synchronous_commit", "full_page_writes", "archive_mode"):
            assert shown[name] == "on", name
        assert shown["wal_level"] == "logical"
        assert "pg_stat_statements" in shown["shared_preload_libraries"]
        assert describe(server).startswith("database: PostgreSQL durable")
    finally:
        server.stop()
        shutil.rmtree(server.base_dir, ignore_errors=True)


@pytest.mark.postgresql
def test_a_benchmarks_server_leaves_no_data_directory_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every benchmark run starts a durable server of its own under var/bench: once the run
    is over its directory is gone, so that ``make bench`` does not fill the disk."""
    from bench.infra import postgres_server

    monkeypatch.setenv("BENCH_DB", "postgresql")
    with postgres_server() as server:
        assert server is not None and server.is_running()
        assert (server.base_dir / "data").is_dir() or any(server.base_dir.iterdir())
    assert not server.is_running()
    assert not server.base_dir.exists()


def test_a_test_postgres_reports_it_is_not_durable(postgres: LocalPostgres) -> None:
    assert postgres.show()["fsync"] == "off"
    assert "NOT durable" in postgres.describe_settings()
