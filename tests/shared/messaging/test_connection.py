"""The broker connection's attempts: one that fails or is cancelled leaves nothing open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import ClassVar

import aio_pika
import pytest

from devtools.broker import free_port
from shared.messaging.connection import BrokerConnection


class Recorded(aio_pika.Connection):
    """An aio-pika connection that remembers every instance made (the attempts)."""

    made: ClassVar[list[Recorded]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        Recorded.made.append(self)


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    Recorded.made = []
    monkeypatch.setattr(aio_pika, "Connection", Recorded)
    return Recorded.made


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts a TCP connection and never says a word of AMQP."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the attempt never came"
        await asyncio.sleep(0.02)


async def test_a_refused_attempt_closes_the_connection_it_made(attempts: list[Recorded]) -> None:
    broker = BrokerConnection(f"amqp://guest:guest@127.0.0.1:{free_port()}/", max_backoff=0.2)
    broker.start()
    try:
        await _until(lambda: len(attempts) >= 2)  # the first one failed: a second is made
    finally:
        await broker.close()
    assert attempts and all(connection.is_closed for connection in attempts)


async def test_an_attempt_cancelled_by_close_closes_the_connection_it_made(
    attempts: list[Recorded], silent_server: int
) -> None:
    broker = BrokerConnection(f"amqp://guest:guest@127.0.0.1:{silent_server}/")
    broker.start()
    await _until(lambda: len(attempts) == 1)
    await asyncio.sleep(0.1)  # the attempt waits for the server's greeting
    await broker.close()
    [connection] = attempts
    assert connection.is_closed
