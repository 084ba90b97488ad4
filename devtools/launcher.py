"""Run the whole federation locally: one OS process per ``[[instance]]`` of the configuration.

Each instance runs ``python -m services.<tier> --config CONFIG --instance NAME`` with::

    XUEJI_AMQP_URL       the broker: as the instance's own broker user when ``amqp_urls``
                         names one (``make run`` with its own broker creates them,
                         devtools/broker_users.py), else ``amqp_url''s
    XUEJI_DATA_DIR       data_dir (the service keeps its files there)
    XUEJI_DATABASE_URL   only when database_url_for is given; otherwise the service defaults to
                         sqlite+aiosqlite:///<data_dir>/db/<instance>.sqlite
    XUEJI_SIGNING_KEY_FILE, XUEJI_TRUSTED_KEYS_FILE
                         its message signing key and the federation's public keys, generated
                         once into <data_dir>/keys (private keys 0600; kept across runs)

With ``dev_accounts=True`` it also writes ``<data_dir>/dev-credentials.json`` (mode 0600: one
account per unit with every role and a random password, kept across runs) and passes it as
``XUEJI_DEV_ACCOUNTS``, so each instance creates the accounts of its units (development only;
production refuses the variable).

Its stdout/stderr go to ``<data_dir>/logs/<instance>.log``. An instance is ready when
``GET http://host:port/readyz`` answers 200. Once all are ready, ``<data_dir>/federation.json``
describes the running federation for tools and tests.

``python -m devtools`` (``make run``) is :func:`main`: it also starts a private
RabbitMQ unless ``AMQP_URL`` / ``XUEJI_AMQP_URL`` is set, and then gives every instance a
broker user of its own with only the rights its tier needs (decision 0025); a broker named by
``AMQP_URL`` is used as given: its operator creates the users
(``python -m devtools.broker_users`` prints the commands). It restarts an instance that dies
the way Kubernetes restarts a crashing container (:class:`Backoff`: 1 s, 2 s, 4 s … at most
32 s between attempts, back to 1 s once an instance has run for a minute), and stops
everything it started, the broker included, on Ctrl-C, SIGTERM or SIGHUP. Its children also
die with it if it is killed outright (``devtools.processes``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from devtools.broker import LocalRabbitMQ, free_port, port_open, tail
from devtools.broker_users import provision_instance_users
from devtools.console import LocalConsole
from devtools.postgres import LocalPostgres
from devtools.processes import die_with_parent
from shared.federation.config import (
    NATIONAL,
    NATIONAL_CODE,
    Federation,
    Instance,
    Tier,
    UnitRef,
    load_federation,
)
from shared.messaging.keys import generate_federation_keys, private_key_path

__all__ = [
    "Backoff",
    "FederationError",
    "LocalFederation",
    "free_port",
    "main",
]

log = logging.getLogger(__name__)

CommandFor = Callable[[Instance], list[str]]
READY_PATH = "/readyz"
HEALTH_PATH = "/healthz"  # names the instance that answers
STOP_TIMEOUT = 10.0
# The development accounts count as trained registrars (N2013 art. 23).
DEV_TRAINED_ON = "2026-08-20"


class FederationError(RuntimeError):
    """An instance could not be started, or died while starting."""


@dataclass
class _Child:
    instance: Instance
    process: subprocess.Popen[bytes]
    log_offset: int  # where this run's output starts in the log file
    started_at: float  # time.monotonic() of the start
    port: int | None = None  # a replica's own HTTP port; None: the instance's


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting an instance that died (Kubernetes' CrashLoopBackOff).

    The n-th restart in a row waits ``initial * 2**(n-1)`` seconds, at most ``cap``; an
    instance that had run ``healthy_after`` seconds before dying starts again from ``initial``.
    """

    initial: float = 1.0
    cap: float = 32.0
    healthy_after: float = 60.0

    def delay(self, consecutive_crashes: int) -> float:
        return float(min(self.cap, self.initial * 2 ** max(0, consecutive_crashes - 1)))


@dataclass
class _Restart:
    """The supervisor's memory of one instance: crashes in a row, when to try again."""

    crashes: int = 0
    due: float | None = None  # time.monotonic() of the next start attempt


class LocalFederation:
    """Start, watch and stop the tier services of one federation configuration."""

    def __init__(
        self,
        config_path: Path,
        data_dir: Path,
        amqp_url: str,
        *,
        database_url_for: Callable[[str], str] | None = None,
        extra_env: dict[str, str] | None = None,
        python: str = sys.executable,
        command_for: CommandFor | None = None,
        cwd: Path | None = None,
        die_with_parent: bool = True,
        dev_accounts: bool = False,
        amqp_urls: dict[str, str] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config_path = Path(config_path).absolute()
        self.federation: Federation = load_federation(self.config_path)
        self.data_dir = Path(data_dir).absolute()
        self.amqp_url = amqp_url
        self.database_url_for = database_url_for
        self.extra_env = dict(extra_env or {})
        self.python = python
        self.command_for = command_for or self.default_command
        self.cwd = Path(cwd).absolute() if cwd else Path.cwd()
        self.die_with_parent = die_with_parent
        self.dev_accounts = dev_accounts
        self.amqp_urls = dict(amqp_urls or {})  # instance name -> its own broker user's URL
        self.backoff = backoff or Backoff()
        self._children: dict[str, _Child] = {}
        self._restarts: dict[str, _Restart] = {}
        self._trust_file: Path | None = None

    # -- configuration -------------------------------------------------------------------------

    @property
    def instances(self) -> tuple[Instance, ...]:
        return self.federation.instances

    def instance(self, name: str) -> Instance:
        return self.federation.instance(name)

    def base_url(self, name: str) -> str:
        """The HTTP base URL of an instance, or of a replica (``replica_name``)."""
        child = self._children.get(name)
        if child is not None and child.port is not None:
            return f"http://{child.instance.host}:{child.port}"
        instance = self.instance(name)
        return f"http://{instance.host}:{instance.port}"

    @staticmethod
    def replica_name(name: str, replica: int) -> str:
        """How replica ``replica`` (2, 3, …) of instance ``name`` is known here."""
        return f"{name}#{replica}"

    def instance_for_unit(self, tier: Tier | str, code: str) -> Instance:
        """The instance hosting unit ``tier:code``; KeyError if none does."""
        instance = self.federation.instance_hosting(UnitRef(tier=Tier(tier), code=code))
        if instance is None:
            raise KeyError(f"no instance hosts {tier}:{code}")
        return instance

    def default_command(self, instance: Instance) -> list[str]:
        return [
            self.python,
            "-m",
            f"services.{instance.tier.value}",
            "--config",
            str(self.config_path),
            "--instance",
            instance.name,
        ]

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    @property
    def federation_json(self) -> Path:
        return self.data_dir / "federation.json"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def ensure_keys(self) -> Path:
        """A signing key per instance under ``keys_dir`` and the trust file; its path."""
        if self._trust_file is None:
            self._trust_file = generate_federation_keys(self.federation, self.keys_dir)
        return self._trust_file

    def env_for(self, instance: Instance) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("XUEJI_DATABASE_URL", None)  # one URL for every instance would be wrong
        env.update(
            XUEJI_AMQP_URL=self.amqp_urls.get(instance.name, self.amqp_url),
            XUEJI_DATA_DIR=str(self.data_dir),
            XUEJI_TRUSTED_KEYS_FILE=str(self.ensure_keys()),
            XUEJI_SIGNING_KEY_FILE=str(private_key_path(self.keys_dir, instance.name)),
            PYTHONUNBUFFERED="1",
        )
        env.pop("XUEJI_SIGNING_KEY_ID", None)
        if self.database_url_for is not None:
            env["XUEJI_DATABASE_URL"] = self.database_url_for(instance.name)
        if self.dev_accounts:
            env["XUEJI_DEV_ACCOUNTS"] = str(self.dev_credentials)
        env.update(self.extra_env)
        return env

    # -- development accounts ------------------------------------------------------------------

    @property
    def dev_credentials(self) -> Path:
        return self.data_dir / "dev-credentials.json"

    def units(self) -> list[tuple[Instance, UnitRef]]:
        """Every hosted unit with its instance (a province instance's cities too)."""
        return [(instance, unit) for instance in self.instances for unit in instance.hosted]

    def write_dev_credentials(self) -> Path:
        """One account per unit (every role), passwords kept from an earlier run; mode 0600."""
        known: dict[str, dict[str, object]] = {}
        if self.dev_credentials.exists():
            with contextlib.suppress(ValueError, KeyError):
                data = json.loads(self.dev_credentials.read_text(encoding="utf-8"))
                known = {str(a["username"]): a for a in data["accounts"]}
        accounts = []
        for instance, unit in self.units():
            username = f"{unit.tier.value}-{unit.code.lower()}"
            password = known.get(username, {}).get("password") or secrets.token_urlsafe(12)
            accounts.append(
                {
                    "username": username,
                    "password": password,
                    "unit": str(unit),
                    "roles": ["registrar", "approver", "auditor", "operator"],
                    # trained first (N2013 art. 23): the province's rules require it
                    "trained_on": DEV_TRAINED_ON,
                    "token_url": self.base_url(instance.name) + "/api/v1/auth/token",
                }
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"accounts": accounts}, ensure_ascii=False, indent=2) + "\n"
        descriptor = os.open(self.dev_credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # also when the file existed with other permissions
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
        return self.dev_credentials

    def dev_account(self, tier: Tier | str, code: str) -> tuple[str, str]:
        """(username, password) of the development account of ``tier:code``."""
        data = json.loads(self.dev_credentials.read_text(encoding="utf-8"))
        for account in data["accounts"]:
            if account["unit"] == f"{Tier(tier).value}:{code}":
                return str(account["username"]), str(account["password"])
        raise KeyError(f"no development account for {tier}:{code}")

    # -- processes -----------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        child = self._children.get(name)
        return child.process.pid if child is not None else None

    @property
    def pids(self) -> dict[str, int]:
        return {name: child.process.pid for name, child in self._children.items()}

    def is_running(self, name: str) -> bool:
        child = self._children.get(name)
        return child is not None and child.process.poll() is None

    def returncode(self, name: str) -> int | None:
        child = self._children.get(name)
        return child.process.poll() if child is not None else None

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines this instance wrote since it was last started."""
        child = self._children.get(name)
        path = self.log_path(name)
        if child is None:
            return tail(path, lines)
        try:
            with path.open("rb") as handle:
                handle.seek(child.log_offset)
                data = handle.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def _spawn(
        self, instance: Instance, *, key: str | None = None, port: int | None = None
    ) -> None:
        key = key or instance.name
        if self.is_running(key):
            return
        listen = port or instance.port
        if port_open(instance.host, listen):
            raise FederationError(
                f"port {listen} of instance {key} is already in use "
                "(a federation left over from another run?)"
            )
        self._children.pop(key, None)
        for sub in ("logs", "db"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        path = self.log_path(key)
        command = self.command_for(instance) + (["--port", str(port)] if port else [])
        with path.open("ab") as handle:
            handle.write(f"\n=== {time.ctime()} starting: {' '.join(command)}\n".encode())
            handle.flush()
            offset = handle.tell()
            process = subprocess.Popen(
                command,
                env=self.env_for(instance),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group; Ctrl-C goes to the launcher only
                preexec_fn=die_with_parent(signal.SIGTERM) if self.die_with_parent else None,
            )
        self._children[key] = _Child(instance, process, offset, time.monotonic(), port)
        log.info("started %s (pid %s), log %s", key, process.pid, path)

    def _wait_ready(self, names: list[str], timeout: float) -> None:
        pending = list(names)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in list(pending):
                    child = self._children[name]
                    if child.process.poll() is not None:
                        raise FederationError(
                            f"instance {name} exited with code {child.process.returncode} "
                            f"while starting; last lines of {self.log_path(name)}:\n"
                            f"{self.log_tail(name)}"
                        )
                    try:
                        response = client.get(self.base_url(name) + READY_PATH)
                        # and it is this instance that answers, not another process that holds
                        # its port (this one then fails to bind and exits: reported above)
                        if response.status_code == 200:
                            health = client.get(self.base_url(name) + HEALTH_PATH).json()
                            if health.get("instance") != child.instance.name:
                                continue
                    except (httpx.HTTPError, ValueError):
                        continue
                    if response.status_code == 200:
                        pending.remove(name)
                        log.info("%s ready at %s", name, self.base_url(name))
                if not pending:
                    break
                if time.monotonic() > deadline:
                    details = "\n".join(
                        f"--- {name}: last lines of {self.log_path(name)} ---\n"
                        f"{self.log_tail(name)}"
                        for name in pending
                    )
                    raise FederationError(
                        f"not ready after {timeout:.0f} s: {', '.join(pending)}\n{details}"
                    )
                time.sleep(0.1)

    def start(self, timeout: float = 90) -> None:
        """Start every instance, wait until all are ready, write federation.json.

        On failure every instance is stopped again and FederationError carries the log tail.
        """
        names = [instance.name for instance in self.instances]
        if self.dev_accounts:
            self.write_dev_credentials()
        try:
            for instance in self.instances:
                self._spawn(instance)
            self._wait_ready(names, timeout)
        except BaseException:
            self.stop()
            raise
        self.write_federation_json()

    def start_instance(self, name: str, timeout: float = 90) -> None:
        """Start one instance (if it is not running) and wait until it is ready."""
        self._spawn(self.instance(name))
        try:
            self._wait_ready([name], timeout)
        except BaseException:
            self.stop_instance(name)
            raise

    def start_instances(self, names: list[str], timeout: float = 90) -> None:
        """Start several instances at once (those not running) and wait until all are ready."""
        try:
            for name in names:
                self._spawn(self.instance(name))
            self._wait_ready(names, timeout)
        except BaseException:
            for name in names:
                self.stop_instance(name)
            raise

    def start_replicas(self, names: list[str], replica: int, timeout: float = 90) -> list[str]:
        """Start replica ``replica`` (2, 3, …) of each instance in ``names``: another process
        of the instance, with the same configuration, database and queues (it consumes beside
        the first, decision 0044) and an HTTP port of its own; waits until all are ready and
        returns the names they are known by here (for ``kill``, ``pid``, ``base_url``…).

        Start replicas once the instances are ready: they have migrated their databases.
        """
        keys = [self.replica_name(name, replica) for name in names]
        if replica < 2:
            raise ValueError("replica 1 is the instance itself: number the others from 2")
        try:
            for name, key in zip(names, keys, strict=True):
                self._spawn(self.instance(name), key=key, port=free_port())
            self._wait_ready(keys, timeout)
        except BaseException:
            for key in keys:
                self.stop_instance(key)
            raise
        return keys

    def restart_instance(self, name: str, timeout: float = 90) -> None:
        """Stop one instance gracefully (SIGTERM, then SIGKILL) and start it again."""
        self.stop_instance(name)
        self.start_instance(name, timeout=timeout)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the instance's process group; with SIGKILL, also reap it."""
        child = self._children.get(name)
        if child is None:
            raise KeyError(f"instance {name!r} was never started")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, sig)
        if sig == signal.SIGKILL:
            child.process.wait()

    def wait_exit(self, name: str, timeout: float = STOP_TIMEOUT) -> int | None:
        """Wait for an instance to exit; its exit code, or None if still running."""
        child = self._children.get(name)
        if child is None:
            return None
        try:
            return child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop_instance(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        self._restarts.pop(name, None)
        self._terminate([name], timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every instance, wait up to ``timeout`` s, SIGKILL the rest; reap all."""
        self._restarts.clear()
        self._terminate(list(self._children), timeout)

    # -- supervision ---------------------------------------------------------------------------

    def supervise(self, now: float | None = None) -> list[str]:
        """One round of supervision: note instances that died, restart those whose back-off
        is over; returns the names started in this round. ``make run`` calls it every 0.5 s.

        A restart does not wait for readiness (the instance answers ``/readyz`` when it can);
        an instance that dies again waits twice as long before the next attempt.
        """
        now = time.monotonic() if now is None else now
        started = []
        for name, child in list(self._children.items()):
            state = self._restarts.setdefault(name, _Restart())
            if state.due is None:
                code = child.process.poll()
                if code is None:
                    continue
                self._crashed(child, code, state, now)
            if state.due is not None and now >= state.due:
                state.due = None
                try:
                    self._spawn(child.instance, key=name, port=child.port)
                except (FederationError, OSError) as exc:
                    state.crashes += 1
                    state.due = now + self.backoff.delay(state.crashes)
                    log.error(
                        "could not restart %s: %s; next attempt in %.0f s",
                        name,
                        exc,
                        state.due - now,
                    )
                    continue
                started.append(name)
                log.warning(
                    "restarted %s (pid %s, restart %d in a row)",
                    name,
                    self.pid(name),
                    state.crashes,
                )
        return started

    def _crashed(self, child: _Child, code: int, state: _Restart, now: float) -> None:
        name = next((k for k, c in self._children.items() if c is child), child.instance.name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)  # what it left behind holds its port
        if now - child.started_at >= self.backoff.healthy_after:
            state.crashes = 0  # it had been healthy: this is a new crash loop
        state.crashes += 1
        delay = self.backoff.delay(state.crashes)
        state.due = now + delay
        how = f"code {code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                how = f"signal {signal.Signals(-code).name}"
        log.error(
            "instance %s exited with %s; restarting in %.0f s (back-off, crash %d in a row); "
            "last lines of %s:\n%s",
            name,
            how,
            delay,
            state.crashes,
            self.log_path(name),
            self.log_tail(name),
        )

    def _terminate(self, names: list[str], timeout: float) -> None:
        children = [self._children[n] for n in names if n in self._children]
        for child in children:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s: SIGKILL", child.instance.name, timeout)
            # the whole group: also grandchildren the service may have left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()

    def __enter__(self) -> LocalFederation:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- description ---------------------------------------------------------------------------

    def describe(self) -> dict[str, object]:
        return {
            "broker": {"amqp_url": self.amqp_url},
            "keys_dir": str(self.keys_dir),
            "instances": [
                {
                    "name": instance.name,
                    "tier": instance.tier.value,
                    "units": list(instance.units),
                    "base_url": self.base_url(instance.name),
                }
                for instance in self.instances
            ],
        }

    def write_federation_json(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.federation_json.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.describe(), ensure_ascii=False, indent=2) + "\n")
        temporary.replace(self.federation_json)
        return self.federation_json

    def table(self) -> str:
        rows = [("TIER", "INSTANCE", "UNITS", "URL", "API DOCS")]
        for instance in self.instances:
            url = self.base_url(instance.name)
            rows.append(
                (instance.tier.value, instance.name, ",".join(instance.units), url, url + "/docs")
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
            for row in rows
        )


# -- make run ----------------------------------------------------------------------------------


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools",
        description="Run the whole federation locally (one process per instance) until Ctrl-C.",
    )
    parser.add_argument("--config", type=Path, default=Path("config/federation.toml"))
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--timeout", type=float, default=120, help="start-up timeout, seconds")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="one PostgreSQL database per instance instead of SQLite files",
    )
    parser.add_argument("--postgres-port", type=int, default=5442)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    data_dir = args.data_dir.absolute()
    config = load_federation(args.config)
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _raise_stop)
    broker: LocalRabbitMQ | None = None
    postgres: LocalPostgres | None = None
    federation: LocalFederation | None = None
    console: LocalConsole | None = None
    code = 0
    try:
        amqp_url = os.environ.get("AMQP_URL") or os.environ.get("XUEJI_AMQP_URL")
        amqp_urls: dict[str, str] = {}
        if not amqp_url:
            broker = LocalRabbitMQ(
                data_dir / "rabbitmq", port=config.broker.port, dist_port=config.broker.dist_port
            )
            broker.start()
            amqp_url = broker.amqp_url
            amqp_urls = _instance_broker_users(broker, config, data_dir)
        database_url_for = None
        if args.postgres:
            pg = postgres = LocalPostgres(data_dir / "postgres", port=args.postgres_port)
            postgres.start()

            def database_url_for(name: str) -> str:
                return pg.create_database(name.replace("-", "_"), exist_ok=True)

        federation = LocalFederation(
            args.config,
            data_dir,
            amqp_url,
            database_url_for=database_url_for,
            die_with_parent=True,
            dev_accounts=True,
            amqp_urls=amqp_urls,
        )
        federation.start(timeout=args.timeout)
        console = LocalConsole(args.config, data_dir, die_with_parent=True)
        console.start()
        print("\n" + federation.table())
        print(f"\nconsole (工作台): {console.url}")
        print(_token_hint(federation))
        print(f"\nbroker: {amqp_url}")
        if postgres is not None:
            print(f"postgres: {postgres.dsn()}")
        print(f"logs: {data_dir / 'logs'}   description: {federation.federation_json}")
        print("A service that dies is restarted. Ctrl-C stops everything.\n", flush=True)
        while True:
            time.sleep(0.5)
            federation.supervise()
    except _Stop as stop:
        log.info("%s received: stopping", stop)
    except KeyboardInterrupt:
        log.info("interrupted: stopping")
    except Exception as exc:
        log.error("%s", exc)
        code = 1
    finally:
        for stop_signal in STOP_SIGNALS:  # a second signal must not cut the clean-up short
            signal.signal(stop_signal, signal.SIG_IGN)
        if console is not None:
            console.stop()
        if federation is not None:
            federation.stop()
        if postgres is not None:
            postgres.stop()
        if broker is not None:
            broker.stop()
        log.info("stopped")
    return code


def _instance_broker_users(
    broker: LocalRabbitMQ, config: Federation, data_dir: Path
) -> dict[str, str]:
    """A broker user per instance on our own broker, its rights from the contracts."""
    urls = provision_instance_users(broker, config, data_dir)
    log.info("broker users: one per instance, passwords in %s", data_dir / "broker-users.json")
    return urls


def _token_hint(federation: LocalFederation) -> str:
    instance, unit = federation.units()[0]
    with contextlib.suppress(KeyError):
        instance, unit = federation.instance_for_unit(Tier.NATIONAL, NATIONAL_CODE), NATIONAL
    username, _ = federation.dev_account(unit.tier, unit.code)
    return (
        f"\naccounts: {federation.dev_credentials} (one per unit, every role; development only)"
        "\na token:  curl -s -X POST "
        f"{federation.base_url(instance.name)}/api/v1/auth/token -d username={username} "
        f"-d password=<its password>\n          then -H 'Authorization: Bearer <access_token>'"
    )


if __name__ == "__main__":
    sys.exit(main())
