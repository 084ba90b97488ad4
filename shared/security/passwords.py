"""Password hashing with Argon2id (argon2-cffi), and the password policy.

Each verification costs a core for tens of milliseconds and 64 MiB: :data:`HASHING` bounds how
many run at once in this process (decision 0026), so that a flood of logins queues briefly,
then answers 503, instead of starving every other request of CPU and memory.
"""

from __future__ import annotations

import asyncio
import math
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.runtime.errors import DomainError

_hasher = PasswordHasher()  # RFC 9106 low-memory profile: Argon2id, t=3, m=64 MiB, p=4

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


T = TypeVar("T")


class HashingBusy(DomainError):
    """503: every hashing slot stayed taken while the request waited; retry shortly."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            "too many logins at once: retry in a second",
            rule="login_busy",
        )
        self.headers = {"Retry-After": "1"}


class HashingSlots:
    """At most ``size`` Argon2 computations at once; a caller waits ``queue_seconds`` for a
    slot, then gets :class:`HashingBusy`. ``peak`` is the most ever in flight at once,
    ``runs`` how many were computed."""

    def __init__(self, size: int = 0, queue_seconds: float = 2.0) -> None:
        self.configure(size, queue_seconds)
        self.in_flight = 0
        self.peak = 0
        self.runs = 0

    def configure(self, size: int, queue_seconds: float) -> None:
        """``size`` 0: half the cores this process may use, at least one."""
        self.peak = 0
        self.size = size or max(1, usable_cores() // 2)
        self.queue_seconds = queue_seconds
        # one semaphore per event loop (tests run several loops in one process)
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    async def run(self, work: Callable[..., T], *args: str) -> T:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.size)
        if semaphore.locked():  # queue briefly (wait_for(…, 0) would never acquire)
            try:
                await asyncio.wait_for(semaphore.acquire(), self.queue_seconds)
            except TimeoutError:
                raise HashingBusy() from None
        else:
            await semaphore.acquire()
        self.in_flight += 1
        self.runs += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self.in_flight -= 1
            semaphore.release()


def usable_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 quota (a pod's
    CPU limit; the node's core count says nothing about it)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


HASHING = HashingSlots()


async def verify_password_async(stored_hash: str, password: str) -> bool:
    """Argon2 costs tens of milliseconds of CPU: off the event loop, in a bounded slot."""
    return await HASHING.run(verify_password, stored_hash, password)


async def hash_password_async(password: str) -> str:
    return await HASHING.run(hash_password, password)


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused, or None (length, not the username)."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if username.lower() in password.lower():
        return "a password must not contain the username"
    return None
