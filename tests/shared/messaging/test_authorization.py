"""Message authorization (decision 0025) through the real consumer and broker: every contract
sent by a tier it does not name as a sender, or to a tier it does not name as a target, is
dead-lettered as a security refusal with an alert, before any handler, the inbox untouched;
a handler that finds the sender is no party to the object is refused the same way and its
writes roll back."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

import shared.contracts
import shared.runtime.diagnostics
from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import Tier, UnitRef
from shared.messaging.connection import BrokerConnection
from shared.messaging.consumer import REASON_HEADER, SECURITY_HEADER, MessageConsumer
from shared.messaging.envelope import Contract, Envelope, registered_contracts
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.signing import SIGNATURE_HEADER, Signer, TrustedKey, TrustStore, Verifier
from shared.messaging.tables import inbox, kernel_metadata
from shared.messaging.topology import ServiceTopology
from tests.shared.messaging.harness import Effect, Node, eventually, random_unit, unique_name
from tests.shared.messaging.test_kernel import dead_letters, publish_raw

pytestmark = pytest.mark.broker

assert shared.contracts and shared.runtime.diagnostics  # every contract registered
CONTRACTS = [c for c in registered_contracts() if c.__module__.startswith("shared.")]
WRONG_SENDERS = [(c, tier) for c in CONTRACTS for tier in Tier if tier not in c.senders]
WRONG_TARGETS = [(c, tier) for c in CONTRACTS for tier in Tier if tier not in c.targets]


def _name(value: Any) -> str:
    return value.message_type if isinstance(value, type) else str(value)


def _code(tier: Tier) -> str:
    digits = {Tier.NATIONAL: 8, Tier.PROVINCE: 2, Tier.CITY: 4, Tier.COUNTY: 6, Tier.SCHOOL: 10}[
        tier
    ]
    return "9" + "".join(random.choices("0123456789", k=digits - 1))


@dataclass
class Receiver:
    """One consumer hosting a unit of every tier, with a handler for every contract (each
    records what it was given: nothing, for a refused message)."""

    consumer: MessageConsumer
    units: dict[Tier, UnitRef]
    signers: dict[Tier, Signer]
    amqp_url: str
    handled: list[str] = field(default_factory=list)
    sessions: Any = None

    def envelope(self, contract: type[Contract], source: Tier, target: Tier) -> Envelope:
        # An empty payload: authorization comes before the payload is even parsed.
        return Envelope(
            type=contract.message_type,
            schema_version=contract.schema_version,
            source=self.units[source],
            target=self.units[target],
            correlation_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            payload={},
        )

    async def send(self, envelope: Envelope) -> None:
        """Signed with the genuine key of the instance hosting its source unit."""
        body = envelope.to_json()
        headers = {SIGNATURE_HEADER: self.signers[envelope.source.tier].sign(body)}
        await publish_raw(
            self.amqp_url,
            envelope.routing_key,
            body,
            headers=headers,
            message_id=str(envelope.message_id),
            type=envelope.type,
        )


@pytest.fixture(scope="module")
async def receiver(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Receiver]:
    name = unique_name("authz")
    units = {tier: UnitRef(tier=tier, code=_code(tier)) for tier in Tier}
    keys = {tier: Ed25519PrivateKey.generate() for tier in Tier}
    trust = TrustStore(
        TrustedKey(
            f"{name}-{tier}", f"{name}-{tier}", tier, frozenset({units[tier].code}), k.public_key()
        )
        for tier, k in keys.items()
    )
    signers = {tier: Signer(f"{name}-{tier}", k) for tier, k in keys.items()}
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('authz') / 'r.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(kernel_metadata.create_all)
    sessions = make_session_factory(engine)
    handled: list[str] = []
    handlers = HandlerRegistry()
    for contract in CONTRACTS:

        async def handle(ctx: HandlerContext, payload: Any) -> None:
            handled.append(ctx.envelope.type)

        handlers.register(contract, handle)
    broker = BrokerConnection(amqp_url, name=name, max_backoff=1.0)
    topology = ServiceTopology(instance=name, units=list(units.values()), retry_delays_ms=(50,))
    consumer = MessageConsumer(
        topology=topology,
        handlers=handlers,
        session_factory=sessions,
        broker=broker,
        verifier=Verifier(instance=name, trust=trust, hosted=frozenset(units.values())),
    )
    broker.start()
    consumer.start()
    await broker.wait_ready(30)
    try:
        yield Receiver(consumer, units, signers, amqp_url, handled, sessions)
    finally:
        await consumer.stop()
        await broker.close()
        await engine.dispose()


async def _refused(receiver: Receiver, envelope: Envelope, reason: str) -> None:
    """Send ``envelope``, wait for its dead letter; check the reason, the alert, no effect."""
    consumer = receiver.consumer
    dead, alerts = consumer.dead_lettered, consumer.security_alerts[reason]
    await receiver.send(envelope)

    async def settled() -> bool:
        return consumer.dead_lettered > dead

    await eventually(settled)
    assert consumer.security_alerts[reason] == alerts + 1
    letter = next(
        m
        for m in await dead_letters(receiver.amqp_url, _node_of(receiver))
        if m.message_id == str(envelope.message_id)
    )
    headers = letter.headers or {}
    assert str(headers[REASON_HEADER]).startswith(f"security: {reason}: ")
    assert headers[SECURITY_HEADER] == reason
    assert receiver.handled == []
    async with receiver.sessions() as session:
        rows = await session.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.message_id == str(envelope.message_id))
        )
        assert rows.scalar_one() == 0


def _node_of(receiver: Receiver) -> Any:
    return receiver.consumer  # dead_letters() reads .topology.dead_queue_name


def _allowed(tiers: frozenset[Tier]) -> Tier:
    return sorted(tiers)[0]


@pytest.mark.parametrize(("contract", "sender"), WRONG_SENDERS, ids=_name)
async def test_every_contract_from_every_tier_it_does_not_name_is_refused(
    receiver: Receiver, contract: type[Contract], sender: Tier
) -> None:
    envelope = receiver.envelope(contract, sender, _allowed(contract.targets))
    await _refused(receiver, envelope, "sender_not_allowed")


@pytest.mark.parametrize(("contract", "target"), WRONG_TARGETS, ids=_name)
async def test_every_contract_to_every_tier_it_does_not_name_is_refused(
    receiver: Receiver, contract: type[Contract], target: Tier
) -> None:
    envelope = receiver.envelope(contract, _allowed(contract.senders), target)
    await _refused(receiver, envelope, "target_not_allowed")


async def test_an_allowed_sender_gets_past_authorization(receiver: Receiver) -> None:
    """The control: from a tier it names, to a tier it names, a contract is not refused for
    who sent it (this empty payload then fails its contract: a plain dead letter)."""
    consumer = receiver.consumer
    for contract in CONTRACTS:
        dead, alerts = consumer.dead_lettered, sum(consumer.security_alerts.values())
        envelope = receiver.envelope(
            contract, _allowed(contract.senders), _allowed(contract.targets)
        )
        await receiver.send(envelope)

        async def settled(before: int = dead) -> bool:
            return consumer.dead_lettered > before

        await eventually(settled)
        assert sum(consumer.security_alerts.values()) == alerts, contract.message_type
    assert receiver.handled == []


def test_only_national_sends_what_national_alone_decides() -> None:
    national_only = {c.message_type for c in CONTRACTS if c.senders == {Tier.NATIONAL}}
    assert {
        "transfer.completed",
        "transfer.closed",
        "transfer.step_opened",
        "transfer.step_settled",
        "transfer.refused",
        "registry.promoted",
        "registry.province_promoted",
        "duplicate.resolution_decided",
        "verification.campaign_opened",
    } <= national_only


@pytest.fixture
async def node(tmp_path: Path, amqp_url: str) -> AsyncIterator[Node]:
    started = Node(
        unique_name("party"), random_unit(), f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", amqp_url
    )
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def test_a_sender_no_party_to_the_object_is_a_security_refusal(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler wrote its effect, then found the sender is no party: the effect rolls back,
    the message is dead-lettered with the refusal, alerted and logged; the others apply."""
    caplog.set_level(logging.WARNING, logger="xueji.security")
    refused, fine = await node.send(Effect(key="intruder", not_a_party=True), Effect(key="ok"))

    async def settled() -> bool:
        return node.consumer.dead_lettered == 1 and "ok" in await node.effect_counts()

    await eventually(settled)
    assert await node.effect_counts() == {"ok": 1}
    assert node.consumer.security_alerts["not_a_party"] == 1
    [letter] = await dead_letters(node.amqp_url, node)
    headers = letter.headers or {}
    assert headers[SECURITY_HEADER] == "not_a_party"
    assert f"envelope {refused.message_id} of a bundle: security: not_a_party: " in str(
        headers[REASON_HEADER]
    )
    [record] = [r for r in caplog.records if r.name == "xueji.security"]
    fields = record.security  # type: ignore[attr-defined]
    assert (fields["reason"], fields["message_id"]) == ("not_a_party", str(refused.message_id))
    assert fields["source"] == str(node.unit)
    assert fine.message_id != refused.message_id
