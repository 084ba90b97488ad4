"""The local infrastructure: a real RabbitMQ node, a real PostgreSQL, the process launcher."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pika
import pytest

from devtools.broker import LocalRabbitMQ, free_port
from devtools.launcher import FederationError, LocalFederation
from devtools.postgres import LocalPostgres
from shared.federation.config import Instance
from shared.messaging.keys import load_trust_file

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


# -- launcher ----------------------------------------------------------------------------------

FAKE_SERVICE = textwrap.dedent(
    """
    # A stand-in for `python -m services.<tier>`: serves /readyz and /env, leaves a grandchild.
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


def test_launcher_starts_describes_and_stops_instances(
    fake_federation: tuple[Path, Path], tmp_path: Path
) -> None:
    config, fake = fake_federation

    def command_for(instance: Instance) -> list[str]:
        return [sys.executable, str(fake), "--config", str(config), "--instance", instance.name]

    data_dir = tmp_path / "var"
    federation = LocalFederation(
        config,
        data_dir,
        "amqp://guest:guest@127.0.0.1:1/",
        database_url_for=lambda name: f"sqlite+aiosqlite:///{data_dir}/{name}.db",
        extra_env={"XUEJI_EXTRA": "yes"},
        command_for=command_for,
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


def test_launcher_reports_a_crashing_instance_and_cleans_up(
    fake_federation: tuple[Path, Path], tmp_path: Path
) -> None:
    config, fake = fake_federation
    federation = LocalFederation(
        config,
        tmp_path / "var",
        "amqp://guest:guest@127.0.0.1:1/",
        extra_env={"FAKE_CRASH": "county-41"},
        command_for=lambda i: [
            sys.executable,
            str(fake),
            "--config",
            str(config),
            "--instance",
            i.name,
        ],
    )
    with pytest.raises(FederationError, match="crashing on purpose"):
        federation.start(timeout=20)
    assert not federation.is_running("national")
    assert not (tmp_path / "var" / "federation.json").exists()
    assert federation.pid("national") is not None
    assert _wait_dead(federation.pid("national") or 0)
