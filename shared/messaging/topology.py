"""Exchanges and queues, named once and declared idempotently at every start-up.

- ``xueji.events`` (topic): every inter-tier message, routing key ``<tier>.<code>.<type>``,
  for a school ``school.<area>.<school>.<type>`` (its code's six-digit prefix, decision 0045);
- one durable quorum queue per service instance, ``xueji.<instance>``, bound to
  ``<tier>.<code>.#`` for each unit the instance hosts, a school instance to
  ``school.<area>.#`` once per area (every school of an area is on one instance: the
  federation configuration checks it), so a country is ~6,500 bindings, not ~503,000;
- ``xueji.dead`` (topic) and ``xueji.<instance>.dead`` (quorum): dead letters, routed by the
  instance queue's name (``xueji.<instance>``, no wildcard), each carrying
  ``x-failure-reason``. A topic exchange so that RabbitMQ's topic permissions confine each
  instance's user to its own key there: it cannot bind a queue of its own under another
  instance's key and read copies of that instance's dead letters (decision 0025). A direct
  ``xueji.dead`` of an older broker is replaced by the administrator (``python -m
  devtools.broker_users upgrade``);
- ``xueji.retry`` (topic) and ``xueji.<instance>.delay.<ms>ms`` (classic, durable): one delay
  queue per back-off step, bound to ``<instance>.delay.<ms>``, whose expired messages
  dead-letter back through ``xueji.retry`` under ``<instance>.requeue``, which only the
  instance queue is bound to. Not the default exchange: a broker user that may publish there
  may put a message into any queue, past every topic permission (decision 0025); on
  ``xueji.retry`` each instance's user may use only keys that start with its own name.

Exchanges are declared passively first (a least-privileged broker user may not declare them;
the broker's provisioning did), actively only when missing (a development broker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue
from aiormq.exceptions import ChannelNotFoundEntity

from shared.federation.config import UnitRef
from shared.messaging.envelope import binding_key_for

EVENTS_EXCHANGE = "xueji.events"
DEAD_EXCHANGE = "xueji.dead"
RETRY_EXCHANGE = "xueji.retry"
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

    def retry_key(self, attempt: int) -> str:
        """The ``xueji.retry`` key of the delay queue for the ``attempt``-th retry (1-based),
        capped at the last step."""
        delay = self.retry_delays_ms[min(attempt, len(self.retry_delays_ms)) - 1]
        return f"{self.instance}.delay.{delay}"

    @property
    def requeue_key(self) -> str:
        """The ``xueji.retry`` key that leads back into the instance queue."""
        return f"{self.instance}.requeue"

    def delay_queue_name(self, delay_ms: int) -> str:
        return f"{self.queue_name}.delay.{delay_ms}ms"

    def queue_names(self) -> list[str]:
        """Every queue this instance owns."""
        delays = sorted(set(self.retry_delays_ms))
        return [
            self.queue_name,
            self.dead_queue_name,
            *(self.delay_queue_name(d) for d in delays),
        ]

    @property
    def max_attempts(self) -> int:
        """Deliveries before a failing message is dead-lettered: first try + one per step."""
        return len(self.retry_delays_ms) + 1

    def bindings(self) -> list[str]:
        """The ``xueji.events`` keys the instance queue is bound to: one per hosted unit, one
        per area for schools (in the units' order, without repeats)."""
        return list(dict.fromkeys(binding_key_for(unit) for unit in self.units))


@dataclass
class DeclaredTopology:
    events: AbstractExchange
    dead: AbstractExchange
    queue: AbstractQueue


EXCHANGES = (
    (EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC),
    (DEAD_EXCHANGE, aio_pika.ExchangeType.TOPIC),
    (RETRY_EXCHANGE, aio_pika.ExchangeType.TOPIC),
)


async def _exchanges_exist(connection: AbstractConnection) -> bool:
    """Whether every exchange exists (passive declarations need no permission; a missing one
    closes the probe's channel, which is its own)."""
    probe = await connection.channel(publisher_confirms=False)
    try:
        for name, kind in EXCHANGES:
            await probe.declare_exchange(name, kind, durable=True, passive=True)
    except ChannelNotFoundEntity:
        return False
    finally:
        with contextlib.suppress(Exception):
            await probe.close()
    return True


async def declare_exchanges(
    channel: AbstractChannel, connection: AbstractConnection | None = None
) -> tuple[AbstractExchange, AbstractExchange]:
    """The events and dead-letter exchanges (and the retry exchange), declared if missing;
    with ``connection``, looked up passively first (what a least-privileged user may do)."""
    if connection is not None and await _exchanges_exist(connection):
        return (
            await channel.get_exchange(EVENTS_EXCHANGE, ensure=False),
            await channel.get_exchange(DEAD_EXCHANGE, ensure=False),
        )
    declared = [
        await channel.declare_exchange(name, kind, durable=True) for name, kind in EXCHANGES
    ]
    return declared[0], declared[1]


async def declare_service_topology(
    channel: AbstractChannel,
    topology: ServiceTopology,
    connection: AbstractConnection | None = None,
) -> DeclaredTopology:
    """Declare (idempotently) everything ``topology`` needs; safe to call on every start."""
    events, dead = await declare_exchanges(channel, connection)
    retry = await channel.get_exchange(RETRY_EXCHANGE, ensure=False)
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
        delayed = await channel.declare_queue(
            topology.delay_queue_name(delay),
            durable=True,
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": RETRY_EXCHANGE,
                "x-dead-letter-routing-key": topology.requeue_key,
            },
        )
        await delayed.bind(retry, routing_key=f"{topology.instance}.delay.{delay}")
    await queue.bind(retry, routing_key=topology.requeue_key)
    for key in topology.bindings():
        await queue.bind(events, routing_key=key)
    return DeclaredTopology(events=events, dead=dead, queue=queue)
