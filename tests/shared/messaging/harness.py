"""A minimal service built from the real kernel parts, for the kernel's own tests.

Each node has its own database (SQLite or PostgreSQL, from the ``database_url`` fixture), its
own quorum queue and units, and applies ``test.effect`` messages by inserting one row each.
It signs with its own Ed25519 key and trusts its own key plus the ``trusted`` ones.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.connection import BrokerConnection
from shared.messaging.consumer import MessageConsumer
from shared.messaging.envelope import EVERY_TIER, Contract, Envelope, build_envelope, contract
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.outbox import OutboxRelay, stage, wake_relay_after_commit
from shared.messaging.signing import (
    SIGNATURE_HEADER,
    Signer,
    TrustedKey,
    TrustStore,
    Verifier,
)
from shared.messaging.tables import kernel_metadata
from shared.messaging.topology import ServiceTopology

test_metadata = MetaData()
effects = Table(
    "test_effect",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(60), nullable=False),
    Column("amount", Integer, nullable=False),
)


@contract("test.effect", 1, senders=EVERY_TIER, targets=EVERY_TIER)
class Effect(Contract):
    key: str
    amount: int = 1
    fail_times: int = 0  # the handler raises this many times before succeeding
    permanent: bool = False  # the handler refuses it for good
    not_a_party: bool = False  # the handler writes its effect, then finds the sender no party


@contract("test.bulk_effect", 1, senders=EVERY_TIER, targets=EVERY_TIER)
class BulkEffect(Contract):
    """Applied by a set-based handler: one INSERT for a whole run of messages."""

    key: str
    poison: bool = False


def random_unit() -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=f"9{random.randrange(10**9):09d}")


@dataclass
class Node:
    name: str
    unit: UnitRef
    database_url: str
    amqp_url: str
    retry_delays_ms: tuple[int, ...] = (50, 100, 200)
    relay_batch: int = 500
    consumer_batch: int = 100
    trusted: list[TrustedKey] = field(default_factory=list)
    max_age: timedelta = timedelta(hours=72)
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def __post_init__(self) -> None:
        self.signer = Signer(self.name, self.key)

    @property
    def trusted_key(self) -> TrustedKey:
        """This node's public key as another node trusts it (it speaks for its unit)."""
        return TrustedKey(
            key_id=self.name,
            instance=self.name,
            tier=self.unit.tier,
            units=frozenset({self.unit.code}),
            public_key=self.key.public_key(),
        )

    def signed(self, body: bytes) -> dict[str, str]:
        """AMQP headers signing ``body`` with this node's key, as its relay would."""
        return {SIGNATURE_HEADER: self.signer.sign(body)}

    async def start(self, *, relay: bool = True, consumer: bool = True) -> Node:
        self.engine = make_engine(self.database_url)
        async with self.engine.begin() as conn:
            await conn.run_sync(kernel_metadata.create_all)
            await conn.run_sync(test_metadata.create_all)
        self.sessions = make_session_factory(self.engine)
        self.failures: dict[str, int] = {}
        handlers = HandlerRegistry()
        handlers.register(Effect, self._apply_effect)
        handlers.register_many(BulkEffect, self._apply_bulk)
        self.bulk_calls: list[int] = []
        self.broker = BrokerConnection(self.amqp_url, name=self.name, max_backoff=1.0)
        self.topology = ServiceTopology(
            instance=self.name, units=[self.unit], retry_delays_ms=self.retry_delays_ms
        )
        self.relay = OutboxRelay(
            self.sessions,
            self.broker,
            signer=self.signer,
            batch_size=self.relay_batch,
            poll_interval=0.2,
        )
        wake_relay_after_commit(self.sessions, self.relay)
        self.consumer = MessageConsumer(
            topology=self.topology,
            handlers=handlers,
            session_factory=self.sessions,
            broker=self.broker,
            verifier=Verifier(
                instance=self.name,
                trust=TrustStore([self.trusted_key, *self.trusted]),
                hosted=frozenset({self.unit}),
                max_age=self.max_age,
            ),
            batch_size=self.consumer_batch,
        )
        self.broker.start()
        if consumer:
            self.consumer.start()
        if relay:
            self.relay.start()
        await self.broker.wait_ready(30)
        return self

    async def stop(self) -> None:
        await self.relay.stop()
        await self.consumer.stop()
        await self.broker.close()
        await self.engine.dispose()

    async def _apply_effect(self, ctx: HandlerContext, effect: Effect) -> None:
        if effect.permanent:
            raise PermanentMessageError(f"effect {effect.key} refused by the handler")
        seen = self.failures.get(effect.key, 0)
        if seen < effect.fail_times:
            self.failures[effect.key] = seen + 1
            raise RuntimeError(f"transient failure {seen + 1} of {effect.key}")
        await ctx.session.execute(insert(effects).values(key=effect.key, amount=effect.amount))
        if effect.not_a_party:
            raise NotAParty(f"{ctx.envelope.source} has no say over effect {effect.key}")

    async def _apply_bulk(
        self, contexts: Sequence[HandlerContext], payloads: Sequence[BulkEffect]
    ) -> None:
        self.bulk_calls.append(len(payloads))
        if any(p.poison for p in payloads):
            raise PermanentMessageError("a poisoned bulk effect")
        await contexts[0].session.execute(
            insert(effects), [{"key": p.key, "amount": 1} for p in payloads]
        )

    def envelope(self, effect: Contract, target: UnitRef | None = None) -> Envelope:
        return build_envelope(effect, source=self.unit, target=target or self.unit)

    async def send(self, *payloads: Contract, target: UnitRef | None = None) -> list[Envelope]:
        """Stage and commit messages through the outbox, as a handler or request would."""
        envelopes = [self.envelope(p, target) for p in payloads]
        async with self.sessions() as session, session.begin():
            await stage(session, envelopes)
        return envelopes

    async def effect_counts(self) -> dict[str, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(effects.c.key, func.count()).group_by(effects.c.key)
            )
            return {key: count for key, count in rows.all()}

    async def total_effects(self) -> int:
        async with self.sessions() as session:
            return int(
                (await session.execute(select(func.count()).select_from(effects))).scalar_one()
            )


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 20.0, interval: float = 0.05
) -> None:
    """Poll ``check`` until it holds, failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def unique_name(prefix: str = "kernel-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
