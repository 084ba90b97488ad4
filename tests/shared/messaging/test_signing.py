"""Signed messages against the real broker, on SQLite and PostgreSQL: forged, tampered,
replayed and wrongly addressed messages are dead-lettered with their reason, raise a security
alert, and are never applied; a legitimate one is, and an operator's replay still works."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from shared.audit.tables import GENESIS, audit_entry, audit_head
from shared.messaging.consumer import REASON_HEADER
from shared.messaging.envelope import Envelope, build_envelope, routing_key_for
from shared.messaging.signing import REPLAY_HEADER, SIGNATURE_HEADER, Signer
from shared.messaging.tables import inbox
from shared.ops.audit import record_forced_replay, verify_chain
from shared.ops.dead_letters import DeadLetter, list_dead_letters, replay_dead_letters
from shared.telemetry.metrics import MessagingCollector, ServiceMetrics
from tests.shared.messaging.harness import Effect, Node, eventually, random_unit, unique_name
from tests.shared.messaging.test_kernel import dead_letters, publish_raw

pytestmark = pytest.mark.broker

HOUR_MS = 3_600_000


@dataclass
class Parties:
    receiver: Node  # trusts sender and other
    sender: Node  # hosts sender.unit
    other: Node  # a trusted instance hosting another unit
    forger: Signer  # a key nobody trusts


@pytest.fixture
async def p(database_url: str, amqp_url: str, tmp_path: Path) -> AsyncIterator[Parties]:
    # the receiver on SQLite and PostgreSQL; the sender only needs an outbox of its own
    sender_db = f"sqlite+aiosqlite:///{tmp_path / 'sender.sqlite'}"
    sender = Node(unique_name("sender"), random_unit(), sender_db, amqp_url)
    other = Node(unique_name("other"), random_unit(), sender_db, amqp_url)  # never started
    receiver = Node(
        unique_name("receiver"),
        random_unit(),
        database_url,
        amqp_url,
        trusted=[sender.trusted_key, other.trusted_key],
    )
    await receiver.start()
    await sender.start(consumer=False)
    try:
        yield Parties(receiver, sender, other, Signer("forger", Ed25519PrivateKey.generate()))
    finally:
        await sender.stop()
        await receiver.stop()


def to_receiver(p: Parties, key: str, **changes: Any) -> Envelope:
    """A test.effect from the sender's unit to the receiver's (fields overridden by changes)."""
    envelope = build_envelope(Effect(key=key), source=p.sender.unit, target=p.receiver.unit)
    return envelope.model_copy(update=changes)


async def deliver(p: Parties, body: bytes, headers: dict[str, Any], message_id: str) -> None:
    """Publish to the receiver's routing key, bypassing every relay (a hostile peer's view)."""
    routing_key = routing_key_for(p.receiver.unit, "test.effect")
    await publish_raw(
        p.receiver.amqp_url, routing_key, body, headers=headers, message_id=message_id
    )


async def inbox_rows(node: Node, message_ids: list[str]) -> int:
    async with node.sessions() as session:
        query = select(func.count()).select_from(inbox).where(inbox.c.message_id.in_(message_ids))
        return int((await session.execute(query)).scalar_one())


async def test_a_signed_message_from_the_unit_its_sender_hosts_is_applied(p: Parties) -> None:
    await p.sender.send(Effect(key="legitimate"), target=p.receiver.unit)
    await eventually(lambda: _has(p.receiver, "legitimate"))
    assert p.receiver.consumer.dead_lettered == 0
    assert sum(p.receiver.consumer.security_alerts.values()) == 0


async def test_forged_tampered_stale_and_misaddressed_messages_are_refused(
    p: Parties, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xueji.security")
    now = time.time_ns() // 1_000_000
    sender, other = p.sender.signer, p.other.signer
    cases: dict[str, tuple[bytes, dict[str, Any], str]] = {}

    def case(name: str, envelope: Envelope, headers: Any, expected: str, body: bytes = b"") -> None:
        data = body or envelope.to_json()
        cases[str(envelope.message_id)] = (
            data,
            headers(data) if callable(headers) else headers,
            f"{name}|{expected}",
        )

    case("unsigned", to_receiver(p, "unsigned"), {}, "unsigned")
    case(
        "unknown key",
        to_receiver(p, "forged"),
        lambda b: {SIGNATURE_HEADER: p.forger.sign(b)},
        "unknown_key",
    )
    impostor = Signer(p.sender.name, Ed25519PrivateKey.generate())  # the sender's id, not its key
    case(
        "impostor",
        to_receiver(p, "impostor"),
        lambda b: {SIGNATURE_HEADER: impostor.sign(b)},
        "bad_signature",
    )
    original = to_receiver(p, "tampered")
    signed = sender.sign(original.to_json())
    tampered = original.model_copy(update={"payload": {"key": "tampered", "amount": 1000}})
    case("tampered", tampered, {SIGNATURE_HEADER: signed}, "bad_signature")
    # a trusted instance claiming a unit it does not host (the sender's)
    case(
        "claims another unit",
        to_receiver(p, "claimed"),
        lambda b: {SIGNATURE_HEADER: other.sign(b)},
        "source_not_hosted_by_signer",
    )
    # properly signed by the sender, addressed to a unit the receiver does not host
    case(
        "wrong target",
        to_receiver(p, "misrouted", target=p.other.unit),
        lambda b: {SIGNATURE_HEADER: sender.sign(b)},
        "wrong_target",
    )
    case(
        "old",
        to_receiver(p, "old"),
        lambda b: {SIGNATURE_HEADER: sender.sign(b, now - 73 * HOUR_MS)},
        "expired",
    )
    case(
        "future",
        to_receiver(p, "future"),
        lambda b: {SIGNATURE_HEADER: sender.sign(b, now + HOUR_MS)},
        "from_the_future",
    )

    def renewed_by_other(body: bytes) -> dict[str, str]:  # only the receiver may renew its own
        old = sender.sign(body, now - 100 * HOUR_MS)
        return {SIGNATURE_HEADER: old, REPLAY_HEADER: other.attest_replay(old)}

    case(
        "renewed by another", to_receiver(p, "renewed"), renewed_by_other, "bad_replay_attestation"
    )

    for message_id, (body, headers, _) in cases.items():
        await deliver(p, body, headers, message_id)
    await eventually(lambda: _is(p.receiver.consumer.dead_lettered == len(cases)))

    reasons = {
        m.message_id: str((m.headers or {})[REASON_HEADER])
        for m in await dead_letters(p.receiver.amqp_url, p.receiver)
    }
    for message_id, (_, _, label) in cases.items():
        name, code = label.split("|")
        assert reasons[message_id].startswith(f"security: {code}: "), (name, reasons[message_id])
        assert "tampered" not in reasons[message_id] or name != "tampered"  # no payload echoed
    # none applied: no effect, no inbox row
    assert await p.receiver.total_effects() == 0
    assert await inbox_rows(p.receiver, list(cases)) == 0
    # an alert per refusal, counted by reason and logged on the security logger
    alerts = p.receiver.consumer.security_alerts
    assert alerts["bad_signature"] == 2 and sum(alerts.values()) == len(cases)
    records = [r for r in caplog.records if r.name == "xueji.security"]
    assert len(records) == len(cases) and all(r.levelno == logging.ERROR for r in records)
    fields = [r.security for r in records]  # type: ignore[attr-defined]
    assert {f["reason"] for f in fields} == {label.split("|")[1] for *_, label in cases.values()}
    assert all(f["message_id"] in cases for f in fields)
    assert not any("amount" in r.getMessage() for r in records)
    metrics = ServiceMetrics(process_metrics=False)
    metrics.register_collector(
        MessagingCollector(p.receiver.consumer, p.receiver.relay, p.receiver.broker)
    )
    text = (await metrics.render()).decode()
    assert 'xueji_security_alerts_total{reason="bad_signature"} 2.0' in text
    assert 'xueji_security_alerts_total{reason="wrong_target"} 1.0' in text


async def test_a_replayed_message_is_applied_once(p: Parties) -> None:
    envelope = to_receiver(p, "replayed")
    body = envelope.to_json()
    headers = {SIGNATURE_HEADER: p.sender.signer.sign(body)}
    for _ in range(3):  # the very same signed bytes, captured and sent again
        await deliver(p, body, headers, str(envelope.message_id))
    await p.sender.send(Effect(key="marker"), target=p.receiver.unit)
    await eventually(lambda: _has(p.receiver, "marker"))
    await eventually(lambda: _is(p.receiver.consumer.duplicates >= 2))
    assert (await p.receiver.effect_counts())["replayed"] == 1
    assert await inbox_rows(p.receiver, [str(envelope.message_id)]) == 1


async def test_an_expired_dead_letter_is_replayed_only_when_forced_with_an_audited_reason(
    p: Parties,
) -> None:
    """A receiver down longer than the window: its stale backlog is dead-lettered as expired.
    A routine replay, even with the instance's key, keeps it (renewing it would launder it),
    and so does --force alone; forced with a reason it is renewed and applied, and the reason
    is in the instance's audit chain (decision 0025)."""
    envelope = to_receiver(p, "late")
    body = envelope.to_json()
    stale = p.sender.signer.sign(body, time.time_ns() // 1_000_000 - 80 * HOUR_MS)
    await deliver(p, body, {SIGNATURE_HEADER: stale}, str(envelope.message_id))
    await eventually(lambda: _is(p.receiver.consumer.security_alerts["expired"] == 1))
    message_id = str(envelope.message_id)

    amqp_url, name, signer = p.receiver.amqp_url, p.receiver.name, p.receiver.signer
    for kept in (
        await asyncio.to_thread(replay_dead_letters, amqp_url, name, signer=signer),
        await asyncio.to_thread(replay_dead_letters, amqp_url, name, signer=signer, force=True),
    ):
        assert kept.replayed == []
        assert kept.refused[message_id].startswith("security refusal (expired): ")
    [letter] = await asyncio.to_thread(list_dead_letters, amqp_url, name)
    assert (letter.security, letter.message_id) == ("expired", message_id)
    assert letter.signed_at is not None and letter.signed_at < letter_time(80)

    async with p.receiver.engine.begin() as conn:  # the genesis head its migrations write
        await conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))

    def audit(dead: DeadLetter, reason: str) -> None:
        record_forced_replay(
            p.receiver.database_url,
            operator="ops:test",
            message_id=dead.message_id,
            unit=dead.target,
            refusal=dead.security or "?",
            reason=reason,
        )

    report = await asyncio.to_thread(
        replay_dead_letters,
        amqp_url,
        name,
        signer=signer,
        force=True,
        reason="县局停机三天后补发，已核对",
        audit=audit,
    )
    assert report.replayed == report.forced == [message_id]
    await eventually(lambda: _has(p.receiver, "late"))
    assert await asyncio.to_thread(list_dead_letters, amqp_url, name) == []
    assert (await p.receiver.effect_counts())["late"] == 1
    assert p.receiver.consumer.security_alerts["expired"] == 1  # refused once, never again
    async with p.receiver.sessions() as session:
        [entry] = (await session.execute(select(audit_entry))).all()
    assert (entry.action, entry.object_id, entry.purpose, entry.outcome) == (
        "replay_forced",
        message_id,
        "县局停机三天后补发，已核对",
        "security: expired",
    )
    assert (entry.unit_kind, entry.unit_code) == (p.receiver.unit.tier, p.receiver.unit.code)
    assert (await asyncio.to_thread(verify_chain, p.receiver.database_url)).ok


def letter_time(hours_ago: int) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours_ago) + timedelta(minutes=1)


async def test_the_signature_covers_the_exact_bytes_on_the_wire(p: Parties) -> None:
    """Re-encoding the same envelope (another JSON spelling) is a different message."""
    envelope = to_receiver(p, "respelled")
    body = envelope.to_json()
    signature = p.sender.signer.sign(body)
    respelled = json.dumps(json.loads(body), indent=1).encode()
    await deliver(p, respelled, {SIGNATURE_HEADER: signature}, str(envelope.message_id))
    await eventually(lambda: _is(p.receiver.consumer.security_alerts["bad_signature"] == 1))
    assert await p.receiver.total_effects() == 0


async def _has(node: Node, key: str) -> bool:
    return key in await node.effect_counts()


async def _is(value: bool) -> bool:
    return value
