"""A private RabbitMQ node run as a plain background process (no system service, no Docker).

Debian's ``rabbitmq-server`` package is used through the scripts in ``/usr/lib/rabbitmq/bin``:
the ``/usr/sbin/rabbitmq*`` wrappers switch user and directory and then read another Erlang
cookie, which makes ``rabbitmqctl`` fail with "Erlang distribution failed".

Everything the node writes lives under ``base_dir``::

    base_dir/
      home/.erlang.cookie      HOME of the node and of rabbitmqctl (same cookie for both)
      rabbitmq.conf            loopback_users = none (guest may connect from 127.0.0.1)
      rabbitmq-env.conf        empty: keeps /etc/rabbitmq/rabbitmq-env.conf out
      enabled_plugins          [].
      mnesia/                  the node's database (durable queues survive restart())
      log/<node>.log           the broker's own log; log/console.log its stdout/stderr
      rabbitmq.pid

The node name (``xueji-<port>@localhost``) derives from the AMQP port so that two brokers can
run side by side (e.g. the test session and ``make run``). The Erlang port mapper daemon
(``epmd``, port 4369) is shared by all Erlang nodes of the machine: the broker that started it
kills it on ``stop()`` when no other node is registered there any more.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from devtools.processes import die_with_parent

log = logging.getLogger(__name__)

RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
EPMD_PORT = 4369
_INSTALL_HINT = "install it with `bash scripts/bootstrap.sh` (apt-get install rabbitmq-server)"


# Ports handed out by free_port in this process: never twice (two federations of one test run).
_HANDED_OUT: set[int] = set()
_LOWEST = 10_000


def _ephemeral_low() -> int:
    """The lowest port the kernel gives to outgoing connections (``ip_local_port_range``)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, for a server started a little later.

    Never the same port twice in one process: a port is free when picked, not when the
    server binds it, and two federations of one test run were once given the same one (seen
    in CI: a county of the console's federation could not bind it, and the other
    federation's instance answered in its place). Taken below the kernel's range for
    outgoing connections, which may meanwhile take a port from that range (what ``bind(0)``
    gives) as the local end of one of the many client connections a test run opens.
    """
    top = _ephemeral_low()
    if top - _LOWEST < 1_000:  # no room below the range on this machine: the kernel's pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randrange(_LOWEST, top)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise OSError(f"no free port found from {_LOWEST} to {top}")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a text file ('' if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def epmd_names(port: int = EPMD_PORT) -> dict[str, int] | None:
    """Nodes registered in the local epmd (name -> distribution port), None if no epmd runs."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(struct.pack(">HB", 1, 110))  # NAMES_REQ
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    data = b"".join(chunks)[4:].decode("utf-8", "replace")
    names: dict[str, int] = {}
    for line in data.splitlines():
        # "name xueji-5682 at port 25682"
        parts = line.split()
        if len(parts) == 5 and parts[0] == "name":
            names[parts[1]] = int(parts[4])
    return names


def _epmd_pids() -> set[int]:
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "epmd":
                    pids.add(int(entry.name))
    return pids


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def amqp_handshake(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether a full AMQP connection (guest/guest) can be opened and closed on host:port."""
    import pika

    if not port_open(host, port, timeout=min(timeout, 1.0)):
        return False
    params = pika.ConnectionParameters(
        host=host,
        port=port,
        credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=1,
        socket_timeout=timeout,
        stack_timeout=timeout,
        blocked_connection_timeout=timeout,
    )
    try:
        with _quiet("pika"):
            connection = pika.BlockingConnection(params)
            connection.close()
    except Exception:
        return False
    return True


class BrokerError(RuntimeError):
    """The local broker could not be started or stopped."""


class LocalRabbitMQ:
    """One RabbitMQ node, all state under ``base_dir``, listening on 127.0.0.1:``port``."""

    host = "127.0.0.1"

    def __init__(
        self, base_dir: Path, port: int, dist_port: int, nodename: str | None = None
    ) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.port = port
        self.dist_port = dist_port
        self.nodename = nodename or f"xueji-{port}@localhost"
        self._process: subprocess.Popen[bytes] | None = None
        self._epmd_pid: int | None = None

    @classmethod
    def on_free_ports(cls, base_dir: Path) -> LocalRabbitMQ:
        """A broker on ports nobody uses right now (for tests)."""
        return cls(base_dir, port=free_port(), dist_port=free_port())

    def __repr__(self) -> str:
        return f"LocalRabbitMQ({self.nodename}, port={self.port}, base_dir={self.base_dir})"

    # -- paths -------------------------------------------------------------------------------

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    @property
    def home(self) -> Path:
        return self.base_dir / "home"

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "log"

    @property
    def log_file(self) -> Path:
        """The broker's own log file."""
        return self.log_dir / f"{self.nodename}.log"

    @property
    def console_log(self) -> Path:
        """stdout/stderr of the node process (boot errors land here)."""
        return self.log_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "rabbitmq.pid"

    @property
    def _short_name(self) -> str:
        return self.nodename.partition("@")[0]

    # -- environment -------------------------------------------------------------------------

    def _prepare(self) -> None:
        script = RABBITMQ_SCRIPTS / "rabbitmq-server"
        if not script.exists():
            raise BrokerError(f"{script} not found: {_INSTALL_HINT}")
        for directory in (self.base_dir, self.home, self.log_dir, self.base_dir / "mnesia"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "rabbitmq.conf").write_text(
            "# written by devtools.broker.LocalRabbitMQ\n"
            "loopback_users = none\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        (self.base_dir / "enabled_plugins").write_text("[].\n")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            HOME=str(self.home),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.log_dir),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base_dir / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_CONFIG_FILE=str(self.base_dir / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base_dir / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.base_dir / "rabbitmq-env.conf"),
        )
        return env

    def rabbitmqctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n NODE ARGS`` with this node's cookie; does not raise."""
        return subprocess.run(
            [str(RABBITMQ_SCRIPTS / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # -- state -------------------------------------------------------------------------------

    def _registered(self) -> bool:
        names = epmd_names()
        return names is not None and names.get(self._short_name) == self.dist_port

    def is_running(self) -> bool:
        """Whether this node is registered in epmd and accepts AMQP connections."""
        return self._registered() and amqp_handshake(self.host, self.port)

    def _node_pid(self) -> int | None:
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> None:
        """Start the node (or reuse it if it already runs) and wait until AMQP really works."""
        if self._process is not None and self._process.poll() is None and self.is_running():
            return
        if self.is_running():
            log.info(
                "reusing the RabbitMQ node %s already running on port %s", self.nodename, self.port
            )
            return
        if port_open(self.host, self.port):
            raise BrokerError(
                f"port {self.port} is taken by something that is not the RabbitMQ node "
                f"{self.nodename} (dist port {self.dist_port}); stop it or choose another port"
            )
        if self._short_name in (epmd_names() or {}):
            raise BrokerError(
                f"an Erlang node named {self.nodename} is already registered in epmd but does "
                f"not answer AMQP on port {self.port}; stop it first "
                f"(HOME={self.home} {RABBITMQ_SCRIPTS}/rabbitmqctl -n {self.nodename} stop)"
            )
        self._prepare()
        epmd_before = _epmd_pids()
        with self.console_log.open("ab") as console:
            console.write(f"\n=== starting {self.nodename} at {time.ctime()} ===\n".encode())
            console.flush()
            self._process = subprocess.Popen(
                [str(RABBITMQ_SCRIPTS / "rabbitmq-server")],
                env=self._env(),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal must not reach the node
                # if we are killed, the script stops the node (its TERM trap)
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._process.poll() is not None:
                    raise BrokerError(
                        f"RabbitMQ node {self.nodename} exited with code "
                        f"{self._process.returncode} while starting"
                    )
                if amqp_handshake(self.host, self.port, timeout=2):
                    break
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"RabbitMQ node {self.nodename} did not accept AMQP connections on "
                        f"port {self.port} within {timeout:.0f} s"
                    )
                time.sleep(0.25)
        except BrokerError as exc:
            log.error(
                "RabbitMQ failed to start; its logs are %s and %s", self.log_file, self.console_log
            )
            self._abandon_start(epmd_before)
            raise BrokerError(f"{exc}\n{self._log_tails()}") from None
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) while waiting: leave nothing behind
            self._abandon_start(epmd_before)
            raise
        self._epmd_pid = self._epmd_pid or min(_epmd_pids() - epmd_before, default=None)
        log.info("RabbitMQ %s ready at %s (logs in %s)", self.nodename, self.amqp_url, self.log_dir)

    def _abandon_start(self, epmd_before: set[int]) -> None:
        self._terminate_process()
        self._epmd_pid = self._epmd_pid or min(_epmd_pids() - epmd_before, default=None)
        self._stop_own_epmd()

    def _log_tails(self) -> str:
        parts = []
        for path in (self.log_file, self.console_log):
            text = tail(path, 30)
            if text:
                parts.append(f"--- last lines of {path} ---\n{text}")
        return "\n".join(parts) or f"(no log written under {self.log_dir})"

    def stop(self, timeout: float = 60) -> None:
        """Stop the node (``rabbitmqctl stop``), reap it, and stop the epmd it started if unused."""
        pid = self._node_pid()
        graceful = False
        if self._registered():
            try:
                result = self.rabbitmqctl("stop", timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("rabbitmqctl stop timed out for %s", self.nodename)
            else:
                graceful = result.returncode == 0
                if not graceful:
                    log.warning(
                        "rabbitmqctl stop failed for %s: %s",
                        self.nodename,
                        (result.stderr or result.stdout).strip(),
                    )
        if pid is not None or graceful:
            # after a failed rabbitmqctl stop go straight to SIGTERM
            self._wait_gone(pid, timeout=timeout if graceful else 0)
        self._terminate_process()
        self._stop_own_epmd()

    def _wait_gone(self, pid: int | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=0.2)
            else:
                time.sleep(0.2)
        if pid is not None and _alive(pid):
            log.warning(
                "RabbitMQ node %s (pid %s) still alive; sending SIGTERM", self.nodename, pid
            )
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.2)
            if _alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        # until the node is gone from epmd a new start would see the name taken
        end = time.monotonic() + 10
        while self._short_name in (epmd_names() or {}) and time.monotonic() < end:
            time.sleep(0.1)

    def _terminate_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _stop_own_epmd(self) -> None:
        pid, self._epmd_pid = self._epmd_pid, None
        if pid is None:
            return
        names = epmd_names()
        if names:
            log.info("leaving epmd (pid %s) running: still used by %s", pid, ", ".join(names))
            return
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "epmd":
                os.kill(pid, signal.SIGTERM)

    def restart(self, timeout: float = 90) -> None:
        """Stop the node and start it again; durable queues and messages survive."""
        epmd_pid = self._epmd_pid
        self._epmd_pid = None  # keep epmd across the restart, stop() it later
        self.stop()
        self.start(timeout=timeout)
        self._epmd_pid = self._epmd_pid or epmd_pid

    def __enter__(self) -> LocalRabbitMQ:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] == "Z":
            return False
    return True


def rabbitmq_installed() -> bool:
    return (RABBITMQ_SCRIPTS / "rabbitmq-server").exists() and shutil.which("erl") is not None
