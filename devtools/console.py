"""Run the console (services/console) next to a local federation, as one more process.

``python -m services.console --config CONFIG --port PORT`` with the federation's
configuration; ready when ``GET /healthz`` answers. Used by ``make run`` (devtools/launcher.py)
and by the browser tests (tests/console).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools.broker import port_open, tail
from devtools.processes import die_with_parent
from shared.federation.config import load_federation


class ConsoleError(RuntimeError):
    """The console could not be started."""


class LocalConsole:
    def __init__(
        self,
        config_path: Path,
        data_dir: Path,
        *,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        python: str = sys.executable,
        die_with_parent: bool = False,
    ) -> None:
        self.config_path = Path(config_path).absolute()
        place = load_federation(self.config_path).console
        self.host = place.host
        self.port = port or place.port
        self.data_dir = Path(data_dir).absolute()
        self.extra_env = dict(extra_env or {})
        self.python = python
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "console.log"

    def start(self, timeout: float = 30) -> None:
        if port_open(self.host, self.port):
            raise ConsoleError(f"port {self.port} of the console is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ) | {"PYTHONUNBUFFERED": "1"} | self.extra_env
        command = [
            self.python,
            "-m",
            "services.console",
            "--config",
            str(self.config_path),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        preexec = die_with_parent(signal.SIGTERM) if self.die_with_parent else None
        with self.log_path.open("ab") as handle:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ConsoleError(
                    f"the console exited with code {self.process.returncode}; last lines of "
                    f"{self.log_path}:\n{tail(self.log_path, 40)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise ConsoleError(f"the console did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def stop(self, timeout: float = 10) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
