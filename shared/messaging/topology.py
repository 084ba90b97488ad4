"""Exchanges and queues, named once and declared idempotently at every start-up.

- ``xueji.events`` (topic): every inter-tier message, routing key ``<tier>.<code>.<type>``.
- one durable quorum queue per service instance, ``xueji.<instance>``, bound to
  ``<tier>.<code>.#`` for each unit the instance hosts;
- ``xueji.dead`` (direct) and ``xueji.<instance>.dead`` (quorum): dead letters, routed by the
  instance queue's name, each carrying ``x-failure-reason``;
- ``xueji.<instance>.retry.<ms>`` (classic, durable): one delay queue per back-off step whose
  expired messages dead-letter back into the instance queue through the default exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.federation.config import UnitRef

EVENTS_EXCHANGE = "xueji.events"
DEAD_EXCHANGE = "xueji.dead"
# A message redelivered this often (e.g. it crashes the process) is dead-lettered by the broker.
DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class ServiceTopology:
    """The broker objects one service instance owns."""

    instance: str
    units: Sequence[UnitRef]
    retry_delays_ms: Sequence[int] = (1_000, 5_000, 30_000)

    @property
    def queue_name(self) -> str:
        return f"xueji.{self.instance}"

    @property
    def dead_queue_name(self) -> str:
        return f"{self.queue_name}.dead"

    def retry_queue_name(self, attempt: int) -> str:
        """The delay queue for the ``attempt``-th retry (1-based), capped at the last step."""
        delay = self.retry_delays_ms[min(attempt, len(self.retry_delays_ms)) - 1]
        return f"{self.queue_name}.retry.{delay}ms"

    @property
    def max_attempts(self) -> int:
        """Deliveries before a failing message is dead-lettered: first try + one per step."""
        return len(self.retry_delays_ms) + 1

    def bindings(self) -> list[str]:
        return [f"{unit.tier}.{unit.code}.#" for unit in self.units]


@dataclass
class DeclaredTopology:
    events: AbstractExchange
    dead: AbstractExchange
    queue: AbstractQueue


async def declare_exchanges(channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
    events = await channel.declare_exchange(
        EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead = await channel.declare_exchange(DEAD_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    return events, dead


async def declare_service_topology(
    channel: AbstractChannel, topology: ServiceTopology
) -> DeclaredTopology:
    """Declare (idempotently) everything ``topology`` needs; safe to call on every start."""
    events, dead = await declare_exchanges(channel)
    queue = await channel.declare_queue(
        topology.queue_name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": topology.queue_name,
        },
    )
    dead_queue = await channel.declare_queue(
        topology.dead_queue_name, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead, routing_key=topology.queue_name)
    for delay in sorted(set(topology.retry_delays_ms)):
        await channel.declare_queue(
            f"{topology.queue_name}.retry.{delay}ms",
            durable=True,
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": topology.queue_name,
            },
        )
    for key in topology.bindings():
        await queue.bind(events, routing_key=key)
    return DeclaredTopology(events=events, dead=dead, queue=queue)
