"""One AMQP connection per process, supervised: re-established after any loss.

aio-pika's robust connection restores consumers in the background but has had several
restore bugs (consumers silently not resumed, channels left closed after a broker restart).
We supervise a plain connection instead: on any connection or channel loss the whole
connection is dropped and rebuilt, and every ``on_connected`` hook (topology, consumers,
publisher channel) runs again. Unacknowledged deliveries are redelivered by the broker and the
inbox absorbs the duplicates. See docs/decisions/0003-broker-reconnection.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from aio_pika.connection import make_url

log = logging.getLogger(__name__)

ConnectedHook = Callable[[AbstractConnection], Awaitable[None]]


class BrokerUnavailable(Exception):
    """The broker is not reachable right now; the caller should wait and retry."""


class BrokerConnection:
    """Owns the process's AMQP connection and rebuilds it after failures."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "xueji",
        min_backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self.url = url
        self.name = name
        self._hooks: list[ConnectedHook] = []
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None
        self._lost: asyncio.Future[None] | None = None
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self.generation = 0  # how many times a connection was established

    def on_connected(self, hook: ConnectedHook) -> None:
        """Run ``hook`` on every (re)connection, in registration order, before ready is set."""
        self._hooks.append(hook)

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    @property
    def connection(self) -> AbstractConnection:
        if self._connection is None or not self._ready.is_set():
            raise BrokerUnavailable("not connected to the broker")
        return self._connection

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"{self.name}-broker")

    async def close(self) -> None:
        self._closing = True
        self._ready.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    def connection_lost(self, reason: object = None) -> None:
        """Ask for a reconnect (e.g. a channel closed under us). Safe to call repeatedly."""
        if self._lost is not None and not self._lost.done():
            log.warning("broker connection lost: %s", reason)
            self._lost.set_result(None)

    def watch_channel(self, channel: AbstractChannel) -> None:
        """Treat an unexpected close of ``channel`` as a lost connection."""

        def closed(_sender: Any, exc: BaseException | None = None, *_: Any) -> None:
            if not self._closing:
                self.connection_lost(f"channel closed: {exc!r}")

        channel.close_callbacks.add(closed)

    async def _supervise(self) -> None:
        backoff = self._min_backoff
        while not self._closing:
            try:
                await self._connect_once()
                backoff = self._min_backoff
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: drop, wait, reconnect
                log.warning("broker connection attempt failed: %r", exc)
            finally:
                self._ready.clear()
                await self._drop()
            if not self._closing:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        # made here rather than by aio_pika.connect, which keeps a failed or cancelled
        # attempt's connection to itself: closed here, not left to the garbage collector
        connection = aio_pika.Connection(
            make_url(self.url), client_properties={"connection_name": self.name}
        )
        try:
            await connection.connect(timeout=10)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
            raise
        self._connection = connection
        lost = self._lost

        def closed(_sender: Any, exc: BaseException | None = None, *_: Any) -> None:
            if not lost.done():
                lost.set_result(None)

        connection.close_callbacks.add(closed)
        for hook in self._hooks:
            await hook(connection)
        self.generation += 1
        self._ready.set()
        log.info("connected to the broker (generation %d)", self.generation)
        await lost

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
