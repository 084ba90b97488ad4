"""A private PostgreSQL cluster run with initdb + pg_ctl (no system service, no Docker).

PostgreSQL refuses to run as root, so when we are root the server binaries run as the
``postgres`` user (``runuser``) and ``base_dir`` is handed to that user. Layout::

    base_dir/
      data/         the cluster (initdb), trust authentication
      run/          the unix socket directory
      postgres.log  the server log

The server listens on 127.0.0.1:``port`` only. Databases are created and dropped with the
``psql`` client binary over TCP (no extra Python dependency).

The server process (``postgres``, not ``pg_ctl``, which would detach it) is a child of the
process that calls :meth:`LocalPostgres.start`: ``stop()`` asks it for a fast shutdown, and if
that process is killed without cleaning up, the kernel asks the server for one
(``PR_SET_PDEATHSIG``, see ``devtools.processes``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from devtools.broker import free_port, tail
from devtools.processes import die_with_parent

log = logging.getLogger(__name__)

_INSTALL_HINT = "install it with `bash scripts/bootstrap.sh` (apt-get install postgresql)"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# What production's PostgreSQL runs with (CloudNativePG, deploy/k8s/overlays/*/postgres.yaml and
# components/postgresql): durable commits (fsync, synchronous_commit, full_page_writes on: the
# outbox's and inbox's at-least-once guarantees assume a commit survives a crash), the WAL the
# operator configures for its streaming replicas and archiving (wal_level logical, wal_log_hints,
# archive_mode on with a 5-minute archive_timeout, 512 MB kept for replicas) and Beijing time.
# Production archives with barman-cloud (gzip to the object store), off the commit path; here
# ``archive_command`` is ``/bin/true``: each finished 16 MB segment costs one process, as there.
# Benchmarks run with these (bench/infra.py); the test servers keep ``for_tests``.
PRODUCTION_SETTINGS: dict[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_level": "logical",
    "wal_log_hints": "on",
    "archive_mode": "on",
    "archive_command": "/bin/true",
    "archive_timeout": "5min",
    "max_wal_senders": "10",
    "max_replication_slots": "32",
    "wal_keep_size": "512MB",
    "timezone": "Asia/Shanghai",
}
# Statement statistics for the benchmarks (where does the database time go?); production may
# load it too, it costs ~1-2 % per statement.
STATEMENT_STATS: dict[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "5000",
}
# The settings a benchmark prints with its figures (SHOW name).
REPORTED_SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "wal_log_hints",
    "archive_mode",
    "wal_sync_method",
    "commit_delay",
    "shared_buffers",
    "effective_cache_size",
    "wal_compression",
    "max_wal_size",
    "shared_preload_libraries",
)


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be set up, started or used."""


def find_bindir() -> Path:
    """The directory of the PostgreSQL server binaries (initdb, pg_ctl, psql).

    ``pg_config --bindir`` first (if it has initdb; on Debian pg_config may come from
    libpq-dev and point elsewhere), then the newest ``/usr/lib/postgresql/*/bin``.
    """
    candidates: list[Path] = []
    override = os.environ.get("XUEJI_PG_BINDIR")
    if override:
        candidates.append(Path(override))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {_INSTALL_HINT}")


class LocalPostgres:
    """One PostgreSQL cluster, all state under ``base_dir``, on 127.0.0.1:``port``.

    ``for_tests=True`` trades durability for speed (fsync, synchronous_commit and
    full_page_writes off): never use it for data you want to keep, nor for a figure meant to
    say what production does. ``settings`` are added to the server's command line (e.g.
    :data:`PRODUCTION_SETTINGS`, :data:`STATEMENT_STATS`); they win over ``for_tests``.
    """

    host = "127.0.0.1"
    user = "postgres"

    def __init__(
        self,
        base_dir: Path,
        port: int,
        *,
        for_tests: bool = False,
        max_connections: int = 200,
        bindir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.port = port
        self.for_tests = for_tests
        self.max_connections = max_connections
        self.settings = dict(settings or {})
        self._bindir = bindir
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_free_port(cls, base_dir: Path, *, for_tests: bool = False) -> LocalPostgres:
        return cls(base_dir, port=free_port(), for_tests=for_tests)

    def __repr__(self) -> str:
        return f"LocalPostgres(port={self.port}, base_dir={self.base_dir})"

    # -- paths and commands --------------------------------------------------------------------

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy async URL of the maintenance database ``postgres``."""
        return self.url("postgres")

    def url(self, name: str) -> str:
        """SQLAlchemy async URL of database ``name``."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{name}"

    def dsn(self, name: str = "postgres") -> str:
        """libpq / asyncpg.connect() URL of database ``name``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{name}"

    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _server_cmd(self, *args: str) -> list[str]:
        if self._as_root():
            return ["runuser", "-u", self.user, "--", *args]
        return list(args)

    def _run(self, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            cwd="/",  # the postgres user may not be allowed into our working directory
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            raise PostgresError(
                f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
                f"\n--- last lines of {self.log_file} ---\n{tail(self.log_file, 30)}"
            )

    # -- lifecycle -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if not self._as_root():
            return
        try:
            owner = pwd.getpwnam(self.user)
        except KeyError:
            raise PostgresError(f"there is no `{self.user}` user: {_INSTALL_HINT}") from None
        for path in (self.base_dir, self.socket_dir):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        self.base_dir.chmod(0o700)
        probe = self._run(self._server_cmd("test", "-w", str(self.base_dir)))
        if probe.returncode != 0:
            raise PostgresError(
                f"the `{self.user}` user cannot reach {self.base_dir}: a parent directory is "
                "not traversable by others (e.g. pytest's 0700 tmp dirs); put the cluster in a "
                "directory under /tmp or the repository"
            )

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = self._run(
            self._server_cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status")
        )
        return status.returncode == 0

    def running_port(self) -> int | None:
        """The port the running server listens on, from its postmaster.pid."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def start(self, timeout: float = 60) -> None:
        """initdb (first time only) and start the server; reuse it if it already runs."""
        self._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            result = self._run(
                self._server_cmd(
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                )
            )
            self._check(result, "initdb")
        if self.is_running():
            if self.running_port() == self.port:
                log.info("reusing the PostgreSQL server already running in %s", self.data_dir)
                return
            log.info("restarting the PostgreSQL server in %s on port %s", self.data_dir, self.port)
            self.stop()
        self._spawn_server(timeout)
        log.info("PostgreSQL ready at %s (log %s)", self.dsn(), self.log_file)

    def _server_options(self) -> list[str]:
        options = [
            f"port={self.port}",
            f"unix_socket_directories={self.socket_dir}",
            "listen_addresses=127.0.0.1",
            f"max_connections={self.max_connections}",
        ]
        if self.for_tests:
            options += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        options += [f"{name}={value}" for name, value in self.settings.items()]
        return [arg for option in options for arg in ("-c", option)]

    def _spawn_server(self, timeout: float) -> None:
        """Run ``postgres`` as our child and wait until it accepts connections."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        root = self._as_root()  # then the server runs as the postgres user (it refuses root)
        with self.log_file.open("ab") as log_handle:
            self._process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data_dir), *self._server_options()],
                env=env,
                cwd="/",  # the postgres user may not be allowed into our working directory
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal must not reach the server
                preexec_fn=die_with_parent(signal.SIGINT),  # SIGINT: fast shutdown
                user=self.user if root else None,
                group=self.user if root else None,
                extra_groups=[] if root else None,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:  # failed, or interrupted while waiting: leave nothing behind
            self._stop_own_server(timeout=10)
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Until postmaster.pid says ``ready`` (what ``pg_ctl -w`` waits for)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise PostgresError(
                    f"postgres (port {self.port}) exited with code {self._process.returncode} "
                    f"while starting\n--- last lines of {self.log_file} ---\n"
                    f"{tail(self.log_file, 30)}"
                )
            with contextlib.suppress(OSError, IndexError, ValueError):
                lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
                if int(lines[0]) == self._process.pid and lines[7].strip() == "ready":
                    return
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"postgres (port {self.port}) not ready within {timeout:.0f} s\n"
                    f"--- last lines of {self.log_file} ---\n{tail(self.log_file, 30)}"
                )
            time.sleep(0.05)

    def _stop_own_server(self, timeout: float) -> None:
        """Fast shutdown of the server we started (SIGINT), then SIGQUIT, then SIGKILL."""
        process, self._process = self._process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, None)):
            if process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                log.warning("postgres (pid %s) still running after %s", process.pid, sig.name)

    def stop(self, timeout: float = 60) -> None:
        """Stop the server (fast mode: disconnects clients); a no-op if it does not run."""
        if self._process is not None:
            self._stop_own_server(timeout)
            return
        if not self.is_running():  # a server an earlier run left behind
            return
        result = self._run(
            self._server_cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-t",
                str(int(timeout)),
                "-w",
                "stop",
            ),
            timeout=timeout + 10,
        )
        self._check(result, "pg_ctl stop")

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------------

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the psql client as the superuser; returns its unaligned output."""
        psql = self.bindir / "psql"
        if not psql.exists():
            found = shutil.which("psql")
            if found is None:
                raise PostgresError(f"psql not found: {_INSTALL_HINT}")
            psql = Path(found)
        result = self._run(
            [
                str(psql),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ]
        )
        self._check(result, f"psql {sql!r}")
        return result.stdout

    def show(self, names: tuple[str, ...] = REPORTED_SETTINGS) -> dict[str, str]:
        """The running server's values of ``names`` (``SHOW``), in one psql call."""
        columns = ", ".join(f"current_setting('{n}')" for n in names)
        values = self.psql(f"SELECT concat_ws(E'\\t', {columns})").rstrip("\n").split("\t")
        return dict(zip(names, values, strict=True))

    def describe_settings(self) -> str:
        """One line for a benchmark's report: what the server ran with."""
        shown = self.show()
        durable = all(shown[k] == "on" for k in ("fsync", "synchronous_commit", "full_page_writes"))
        label = "durable (production settings)" if durable else "NOT durable (test settings)"
        return f"PostgreSQL {label}: " + ", ".join(f"{k}={v}" for k, v in shown.items())

    @staticmethod
    def _checked_name(name: str) -> str:
        if not _DB_NAME.match(name):
            raise ValueError(f"invalid database name {name!r} (lower-case letters, digits, _)")
        return name

    def database_exists(self, name: str) -> bool:
        name = self._checked_name(name)
        return self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"

    def create_database(
        self, name: str, *, exist_ok: bool = False, template: str | None = None
    ) -> str:
        """Create a database, empty or a copy of ``template`` (which nobody may be connected
        to); returns its SQLAlchemy async URL."""
        name = self._checked_name(name)
        if not (exist_ok and self.database_exists(name)):
            copy = f' TEMPLATE "{self._checked_name(template)}"' if template else ""
            self.psql(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database (disconnecting its clients); no error if it does not exist."""
        name = self._checked_name(name)
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
