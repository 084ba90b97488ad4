"""Bare broker rate vs the kernel's rate, in one run, on this machine.

bare:   publish N persistent messages with batched confirms while consuming them with acks.
kernel: N messages, each committed in the outbox by a producer transaction, relayed with
        confirms, consumed through the inbox, each causing one committed state change.
Prints both rates and their ratio (target: kernel >= 0.5 x bare).

    python -m bench.kernel_throughput [N]        (BENCH_DB=postgresql for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Sequence

import aio_pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from bench.infra import amqp_url, database_url
from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import Tier, UnitRef
from shared.messaging.connection import BrokerConnection
from shared.messaging.consumer import MessageConsumer
from shared.messaging.envelope import EVERY_TIER, Contract, build_envelope, contract
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.outbox import OutboxRelay, stage, wake_relay_after_commit
from shared.messaging.signing import Signer, TrustedKey, TrustStore, Verifier
from shared.messaging.tables import kernel_metadata
from shared.messaging.topology import ServiceTopology

PAYLOAD = "x" * 300  # ~500 B messages, as INFRA.md measured the bare rate with
bench_metadata = MetaData()
effects = Table(
    "bench_effect",
    bench_metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(40), nullable=False),
)


@contract("bench.effect", 1, senders=EVERY_TIER, targets=EVERY_TIER)
class BenchEffect(Contract):
    key: str
    padding: str


async def bare_rate(url: str, n: int) -> float:
    connection = await aio_pika.connect(url)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=200)
        queue = await consume_channel.declare_queue(
            f"bench.bare.{uuid.uuid4().hex[:8]}",
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == n:
                done.set()

        await queue.consume(on_message)
        body = PAYLOAD.encode()
        started = time.perf_counter()
        for offset in range(0, n, 500):
            await asyncio.gather(
                *(
                    publish_channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        queue.name,
                    )
                    for _ in range(min(500, n - offset))
                )
            )
        await done.wait()
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def kernel_rate(url: str, db_url: str, n: int, *, set_based: bool = True) -> float:
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(kernel_metadata.create_all)
        await conn.run_sync(bench_metadata.create_all)
    sessions = make_session_factory(engine)
    unit = UnitRef(tier=Tier.SCHOOL, code="9" + f"{uuid.uuid4().int % 10**9:09d}")
    handlers = HandlerRegistry()

    async def apply_one(ctx: HandlerContext, effect: BenchEffect) -> None:
        await ctx.session.execute(insert(effects).values(key=effect.key))

    async def apply_many(
        contexts: Sequence[HandlerContext], payloads: Sequence[BenchEffect]
    ) -> None:
        await contexts[0].session.execute(insert(effects), [{"key": p.key} for p in payloads])

    if set_based:
        handlers.register_many(BenchEffect, apply_many)
    else:
        handlers.register(BenchEffect, apply_one)
    broker = BrokerConnection(url, name="bench-kernel")
    instance = f"bench-{uuid.uuid4().hex[:8]}"
    key = Ed25519PrivateKey.generate()  # messages are signed and verified, as in production
    trusted = TrustedKey(instance, instance, unit.tier, frozenset({unit.code}), key.public_key())
    relay = OutboxRelay(sessions, broker, signer=Signer(instance, key), poll_interval=0.05)
    wake_relay_after_commit(sessions, relay)
    consumer = MessageConsumer(
        topology=ServiceTopology(instance=instance, units=[unit]),
        handlers=handlers,
        session_factory=sessions,
        broker=broker,
        verifier=Verifier(instance, TrustStore([trusted]), frozenset({unit})),
    )
    broker.start()
    consumer.start()
    relay.start()
    await broker.wait_ready(30)

    started = time.perf_counter()
    for offset in range(0, n, 100):  # producer transactions of 100 messages
        async with sessions() as session, session.begin():
            await stage(
                session,
                [
                    build_envelope(
                        BenchEffect(key=f"e{i}", padding=PAYLOAD), source=unit, target=unit
                    )
                    for i in range(offset, min(offset + 100, n))
                ],
            )
    while consumer.applied < n:  # counted after each commit; polling the DB would compete
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    async with sessions() as session:
        committed = (await session.execute(select(func.count()).select_from(effects))).scalar_one()
    assert committed == n, f"{committed} effects committed for {n} messages"
    await relay.stop()
    await consumer.stop()
    await broker.close()
    await engine.dispose()
    return n / elapsed


async def main(n: int) -> None:
    with amqp_url() as url, database_url() as db_url:
        await bare_rate(url, min(n, 2000))  # warm-up
        bare = await bare_rate(url, n)
        kernel = await kernel_rate(url, db_url, n)
        with database_url() as db_url_2:
            one_by_one = await kernel_rate(url, db_url_2, n, set_based=False)
    db = db_url.split(":")[0]
    print(f"bare broker (confirms + acks):                          {bare:8.0f} msg/s")
    print(f"kernel ({db}, outbox→broker→inbox→commit, set-based handler): {kernel:8.0f} msg/s")
    print(f"kernel, one INSERT per message:                         {one_by_one:8.0f} msg/s")
    print(f"ratio kernel/bare: {kernel / bare:.2f} (target >= 0.50)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
