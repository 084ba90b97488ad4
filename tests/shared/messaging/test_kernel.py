"""The messaging kernel against the real broker, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from sqlalchemy import event, func, select

from shared.messaging.consumer import (
    MAX_BUNDLE_RECEIVED,
    REASON_HEADER,
    MessageConsumer,
    prune_inbox,
)
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.outbox import MAX_BUNDLE, STAGE_CHUNK, OutboxRelay, stage, staged_in
from shared.messaging.tables import inbox, outbox
from shared.messaging.topology import EVENTS_EXCHANGE
from tests.shared.messaging.harness import (
    BulkEffect,
    Effect,
    Node,
    eventually,
    random_unit,
    unique_name,
)

pytestmark = pytest.mark.broker


@pytest.fixture
async def node(database_url: str, amqp_url: str) -> AsyncIterator[Node]:
    started = await Node(unique_name(), random_unit(), database_url, amqp_url).start()
    yield started
    await started.stop()


async def publish_raw(amqp_url: str, routing_key: str, body: bytes, **props: Any) -> None:
    """Publish straight to the exchange, as a buggy or hostile peer (or a redelivery) would."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(aio_pika.Message(body, **props), routing_key, mandatory=True)


async def dead_letters(amqp_url: str, node: Node) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(node.topology.dead_queue_name)
        found = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found


async def outbox_rows(node: Node) -> list[Any]:
    async with node.sessions() as session:
        return list((await session.execute(select(outbox))).all())


async def test_rolled_back_message_is_never_published(node: Node) -> None:
    async with node.sessions() as session, session.begin():
        await stage(session, [node.envelope(Effect(key="rolled-back"))])
        await session.rollback()
    await node.send(Effect(key="committed"))

    await eventually(lambda: _has(node, "committed"))
    assert "rolled-back" not in await node.effect_counts()
    assert [r.message_type for r in await outbox_rows(node)] == ["test.effect"]


async def test_committed_message_is_published_after_relay_crash(
    database_url: str, amqp_url: str
) -> None:
    name, unit = unique_name(), random_unit()
    first = await Node(name, unit, database_url, amqp_url).start(relay=False)
    await first.send(Effect(key="survivor"))
    await first.stop()  # the process dies after commit, before any publication

    second = await Node(name, unit, database_url, amqp_url).start()
    try:
        await eventually(lambda: _has(second, "survivor"))
        assert (await second.effect_counts())["survivor"] == 1
        assert all(r.sent_at is not None for r in await outbox_rows(second))
    finally:
        await second.stop()


async def test_a_row_an_older_release_stored_under_a_school_key_without_its_area_is_delivered(
    database_url: str, amqp_url: str
) -> None:
    """Outbox rows keep the routing key they were staged with: one written before decision
    0045 (``school.<code>.<type>``, which no queue binds and no broker user may publish any
    more) is published under today's key (``school.<area>.<code>.<type>``) and applied."""
    name, unit = unique_name(), random_unit()
    first = await Node(name, unit, database_url, amqp_url).start(relay=False)
    await first.send(Effect(key="staged-before-the-upgrade"))
    async with first.sessions() as session, session.begin():
        await session.execute(outbox.update().values(routing_key=f"school.{unit.code}.test.effect"))
    await first.stop()

    second = await Node(name, unit, database_url, amqp_url).start()
    try:
        await eventually(lambda: _has(second, "staged-before-the-upgrade"))
        assert all(r.sent_at is not None for r in await outbox_rows(second))
    finally:
        await second.stop()


async def test_same_message_delivered_twice_applies_once(node: Node, amqp_url: str) -> None:
    envelope = node.envelope(Effect(key="twice"))
    for _ in range(2):  # two deliveries of one message, e.g. a republish after a lost confirm
        body = envelope.to_json()
        await publish_raw(amqp_url, envelope.routing_key, body, headers=node.signed(body))
    await node.send(Effect(key="marker"))

    await eventually(lambda: _has(node, "marker"))
    await eventually(lambda: _is(node.consumer.duplicates >= 1))
    assert (await node.effect_counts())["twice"] == 1
    async with node.sessions() as session:
        recorded = await session.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.message_id == str(envelope.message_id))
        )
        assert recorded.scalar_one() == 1


class _Channel:
    """The deliveries of one channel, by tag: what a (multiple) ack settles."""

    def __init__(self) -> None:
        self.deliveries: list[_Delivery] = []


class _Delivery:
    """A delivery as the consumer sees it, to hand it a batch of our choosing."""

    channel = _Channel()

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body, self.headers, self.acked = body, headers, False
        self.message_id, self.type, self.routing_key, self.exchange = None, None, "", ""
        self.content_type = "application/json"
        self.channel.deliveries.append(self)
        self.delivery_tag = len(self.channel.deliveries)

    async def ack(self, multiple: bool = False) -> None:
        for delivery in self.channel.deliveries if multiple else [self]:
            if delivery is self or delivery.delivery_tag < self.delivery_tag:
                delivery.acked = True


async def test_duplicates_inside_one_batch_and_across_batches_apply_once(node: Node) -> None:
    first, second = node.envelope(Effect(key="first")), node.envelope(Effect(key="second"))
    batch = [_Delivery(e.to_json(), node.signed(e.to_json())) for e in (first, first, second)]
    await node.consumer.process(batch)  # type: ignore[arg-type]
    again = [_Delivery(e.to_json(), node.signed(e.to_json())) for e in (second, first)]
    await node.consumer.process(again)  # type: ignore[arg-type]

    counts = await node.effect_counts()
    assert (counts["first"], counts["second"]) == (1, 1)
    assert all(d.acked for d in batch + again)  # duplicates are acknowledged, not retried
    assert node.consumer.duplicates == 3
    async with node.sessions() as session:
        recorded = await session.execute(select(func.count()).select_from(inbox))
        assert recorded.scalar_one() == 2


async def test_transient_failures_are_retried_with_backoff(node: Node) -> None:
    await node.send(Effect(key="flaky", fail_times=2))
    await eventually(lambda: _has(node, "flaky"))
    assert (await node.effect_counts())["flaky"] == 1
    assert node.failures["flaky"] == 2


async def test_retries_are_bounded_then_dead_lettered(node: Node, amqp_url: str) -> None:
    await node.send(Effect(key="hopeless", fail_times=100))
    await eventually(lambda: _is(node.consumer.dead_lettered == 1))
    [letter] = await dead_letters(amqp_url, node)
    assert letter.headers[REASON_HEADER].startswith(  # type: ignore[union-attr]
        f"gave up after {node.topology.max_attempts} attempts"
    )
    assert node.failures["hopeless"] == node.topology.max_attempts
    assert "hopeless" not in await node.effect_counts()


async def test_malformed_messages_are_dead_lettered_with_reason(node: Node, amqp_url: str) -> None:
    good = node.envelope(Effect(key="ok")).model_dump(mode="json")
    key = node.envelope(Effect(key="x")).routing_key
    other_unit = random_unit()
    cases = {
        "bad-json": (b"{not json", "malformed JSON"),
        "no-envelope": (b'{"hello": 1}', "invalid envelope"),
        "unknown-type": (_variant(good, type="test.unheard-of"), "unknown message type"),
        "bad-version": (_variant(good, schema_version=7), "unsupported schema version 7"),
        "wrong-target": (
            _variant(good, target={"tier": "school", "code": other_unit.code}),
            f"target unit school:{other_unit.code} is not hosted",
        ),
        "bad-payload": (_variant(good, payload={"key": 5, "extra": 1}), "invalid payload"),
        "refused": (_variant(good, payload={"key": "no", "permanent": True}), "refused by the"),
        "empty-bundle": (b"[]", "empty bundle"),
        "bundle-of-no-envelopes": (b"[1, 2]", "invalid envelope"),
        "oversized-bundle": (
            json.dumps([good] * (MAX_BUNDLE_RECEIVED + 1)).encode(),
            f"bundle of {MAX_BUNDLE_RECEIVED + 1} envelopes, more than {MAX_BUNDLE_RECEIVED}",
        ),
    }
    for case, (body, _) in cases.items():
        await publish_raw(amqp_url, key, body, message_id=case, headers=node.signed(body))

    await eventually(lambda: _is(node.consumer.dead_lettered == len(cases)))
    reasons = {
        m.message_id: str((m.headers or {})[REASON_HEADER])
        for m in await dead_letters(amqp_url, node)
    }
    for case, (_, expected) in cases.items():
        assert expected in reasons[case], (case, reasons[case])
    assert await node.total_effects() == 0
    assert "ok" not in reasons.get("bad-payload", "")  # no input echoed into the reason


async def test_one_bad_message_does_not_hold_back_its_batch(node: Node) -> None:
    await node.send(
        *[Effect(key=f"good-{i}") for i in range(20)],
        Effect(key="poison", permanent=True),
        *[Effect(key=f"later-{i}") for i in range(20)],
    )
    await eventually(lambda: _count_at_least(node, 40))
    counts = await node.effect_counts()
    assert "poison" not in counts and all(v == 1 for v in counts.values())
    # the poison's dead-letter publish may still be in flight when the 40 are counted
    await eventually(lambda: _is(node.consumer.dead_lettered == 1))


async def test_set_based_handler_applies_a_run_at_once(node: Node) -> None:
    await node.send(*[BulkEffect(key=f"b{i}") for i in range(60)])
    await eventually(lambda: _count_at_least(node, 60))
    assert set((await node.effect_counts()).values()) == {1}
    assert sum(node.bulk_calls) == 60 and max(node.bulk_calls) > 1  # runs, not one by one


async def test_set_based_run_with_a_poisoned_message_falls_back_one_by_one(node: Node) -> None:
    await node.send(
        *[BulkEffect(key=f"ok{i}") for i in range(10)],
        BulkEffect(key="bad", poison=True),
        *[BulkEffect(key=f"fine{i}") for i in range(10)],
    )
    await eventually(lambda: _count_at_least(node, 20))
    await eventually(lambda: _is(node.consumer.dead_lettered == 1))
    counts = await node.effect_counts()
    assert "bad" not in counts and len(counts) == 20 and set(counts.values()) == {1}


async def test_committed_rows_are_handed_to_the_relay_without_reading_the_outbox(
    node: Node,
) -> None:
    reads = 0
    relay_once = node.relay.relay_once

    async def counted() -> int:
        nonlocal reads
        reads += 1
        return await relay_once()

    node.relay.relay_once = counted  # type: ignore[method-assign]
    await asyncio.sleep(0.3)  # past the first poll
    reads = 0
    node.relay._poll_interval = 3600.0  # from now on, no outbox read unless something fails
    await node.send(Effect(key="handed"), Effect(key="over"))

    await eventually(lambda: _has(node, "over"))
    assert (await node.effect_counts()) == {"handed": 1, "over": 1}
    assert reads == 0
    assert all(r.sent_at is not None for r in await outbox_rows(node))


async def test_a_transactions_messages_are_inserted_at_its_commit_in_one_statement(
    node: Node,
) -> None:
    inserts: list[int] = []  # rows per INSERT INTO kernel_outbox, in order

    def count(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO kernel_outbox"):
            inserts.append(len(parameters) if many else 1)

    event.listen(node.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with node.sessions() as session:
            for key in ("one", "two", "three"):  # three emits of one transaction
                await stage(session, [node.envelope(Effect(key=key))])
            assert inserts == []
            async with session.begin_nested():  # a savepoint's rows must roll back with it
                await stage(session, [node.envelope(Effect(key="kept"))])
            assert inserts == [1]
            savepoint = await session.begin_nested()
            await stage(session, [node.envelope(Effect(key="undone"))])
            await savepoint.rollback()
            await session.commit()
        async with node.sessions() as session:  # a rolled-back transaction inserts nothing
            await stage(session, [node.envelope(Effect(key="rolled-back"))])
            await session.rollback()
    finally:
        event.remove(node.engine.sync_engine, "before_cursor_execute", count)

    assert inserts == [1, 1, 3]
    await eventually(lambda: _has(node, "three"))
    await eventually(lambda: _has(node, "kept"))
    counts = await node.effect_counts()
    assert {k: counts.get(k) for k in ("one", "two", "three", "kept")} == dict.fromkeys(
        ("one", "two", "three", "kept"), 1
    )
    assert "undone" not in counts and "rolled-back" not in counts
    assert sorted(r.message_type for r in await outbox_rows(node)) == ["test.effect"] * 4


async def test_a_large_transaction_inserts_its_messages_a_chunk_at_a_time(node: Node) -> None:
    """A transaction that sends more than :data:`STAGE_CHUNK` messages (national's daily
    figures to each of the country's counties) holds no more than a chunk of them in memory:
    the rest are already in the outbox when it commits, and the relay reads them back then,
    without waiting for its next poll."""
    node.relay._poll_interval = 3600.0  # no outbox read but the one the commit asks for
    inserts: list[int] = []

    def count(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO kernel_outbox"):
            inserts.append(len(parameters) if many else 1)

    keys = [f"large-{i}" for i in range(2 * STAGE_CHUNK + 150)]
    event.listen(node.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with node.sessions() as session, session.begin():
            for key in keys:  # one emit per message, as a use case sends them
                await stage(session, [node.envelope(Effect(key=key))])
            assert inserts == [STAGE_CHUNK, STAGE_CHUNK]  # 150 still held, to go at the commit
            staged = await staged_in(session)
            assert [e.payload["key"] for e in staged] == keys
    finally:
        event.remove(node.engine.sync_engine, "before_cursor_execute", count)
    assert inserts == [STAGE_CHUNK, STAGE_CHUNK, 150]

    async def all_applied() -> bool:
        return await node.total_effects() == len(keys)

    await eventually(all_applied)
    assert set(await node.effect_counts()) == set(keys)
    assert all(r.sent_at is not None for r in await outbox_rows(node))


async def test_unroutable_message_stays_in_outbox_with_reason(node: Node) -> None:
    [envelope] = await node.send(Effect(key="nowhere"), target=random_unit())

    async def refused() -> bool:
        rows = [r for r in await outbox_rows(node) if r.message_id == str(envelope.message_id)]
        return bool(rows) and rows[0].last_error is not None

    await eventually(refused)
    [row] = [r for r in await outbox_rows(node) if r.message_id == str(envelope.message_id)]
    assert row.sent_at is None and "unroutable" in row.last_error and row.attempts >= 1


async def test_sent_rows_are_pruned(node: Node) -> None:
    await node.send(*[Effect(key=f"p{i}") for i in range(5)])
    await eventually(lambda: _count_at_least(node, 5))
    pruner = OutboxRelay(node.sessions, node.broker, signer=node.signer, retention=timedelta(0))
    assert await pruner.prune() == 5
    assert await outbox_rows(node) == []


async def test_broker_restart_loses_no_committed_message(
    database_url: str, amqp_url: str, broker: Any, tmp_path: Path
) -> None:
    if broker is None:
        pytest.skip("AMQP_URL names an external broker this test cannot restart")
    # the receiver on SQLite and PostgreSQL; the sender needs an outbox of its own
    sender_db = f"sqlite+aiosqlite:///{tmp_path / 'sender.sqlite'}"
    sender = await Node(unique_name("sender"), random_unit(), sender_db, amqp_url).start()
    receiver = await Node(
        unique_name("receiver"),
        random_unit(),
        database_url,
        amqp_url,
        trusted=[sender.trusted_key],
    ).start()
    generation = receiver.broker.generation
    total = 300

    async def produce() -> None:
        for i in range(total):
            await sender.send(Effect(key=f"m{i}"), target=receiver.unit)
            await asyncio.sleep(0.01)

    try:
        producing = asyncio.create_task(produce())
        await eventually(lambda: _count_at_least(receiver, 20))
        await asyncio.to_thread(broker.restart)
        await producing
        await eventually(lambda: _count_at_least(receiver, total), timeout=90)
        counts = await receiver.effect_counts()
        assert len(counts) == total and set(counts.values()) == {1}
        assert receiver.broker.generation > generation  # the consumer resumed by itself
    finally:
        await sender.stop()
        await receiver.stop()


def _variant(good: dict[str, Any], **changes: Any) -> bytes:
    return json.dumps({**good, **changes}).encode()


async def _has(node: Node, key: str) -> bool:
    return key in await node.effect_counts()


async def _count_at_least(node: Node, n: int) -> bool:
    return await node.total_effects() >= n


async def _is(value: bool) -> bool:
    return value


async def test_a_batch_is_acknowledged_at_once_and_nothing_comes_back(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ``basic.ack`` (multiple) settles an applied batch: fewer acks than messages, and
    after the channel is replaced nothing is delivered again (all were settled)."""
    acks: list[bool] = []
    ack = aio_pika.IncomingMessage.ack

    async def counted(message: aio_pika.IncomingMessage, multiple: bool = False) -> None:
        acks.append(multiple)
        await ack(message, multiple=multiple)

    monkeypatch.setattr(aio_pika.IncomingMessage, "ack", counted)
    await node.send(*[Effect(key=f"k{i}") for i in range(60)])
    await eventually(lambda: _count_at_least(node, 60))
    assert any(acks) and len(acks) < 60
    assert node.consumer.duplicates == 0

    channel = node.consumer._channel
    assert channel is not None
    await channel.close()  # a new channel: anything left unsettled would come back
    await node.send(Effect(key="last"))
    await eventually(lambda: _has(node, "last"))
    await asyncio.sleep(0.3)
    assert node.consumer.duplicates == 0
    assert set((await node.effect_counts()).values()) == {1}


async def test_a_batch_left_unsettled_is_not_acknowledged_by_a_later_one(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails outright stays unacknowledged for redelivery: the next batches on
    that channel ack one by one, so their acks cannot settle it too."""
    process = node.consumer.process
    failed: list[int] = []

    async def fails_first(batch: Any) -> None:
        if not failed:
            failed.append(len(batch))
            raise RuntimeError("the database went away")
        await process(batch)

    monkeypatch.setattr(node.consumer, "process", fails_first)
    await node.send(Effect(key="held"))
    await eventually(lambda: _is(bool(failed)))
    await node.send(*[Effect(key=f"after-{i}") for i in range(5)])
    await eventually(lambda: _count_at_least(node, 5))
    assert "held" not in await node.effect_counts()

    channel = node.consumer._channel
    assert channel is not None
    await channel.close()  # as a broken channel would: the held delivery comes back
    await eventually(lambda: _has(node, "held"))
    assert set((await node.effect_counts()).values()) == {1}


# -- bundles (decision 0021) -------------------------------------------------------------------


async def test_envelopes_sharing_a_routing_key_travel_as_one_bundle(node: Node) -> None:
    """One transaction's messages to one target go out as one delivery per message type (at
    most MAX_BUNDLE envelopes each), and every envelope is applied once, in its own right."""
    await node.send(*[p for i in range(60) for p in (Effect(key=f"e{i}"), BulkEffect(key=f"b{i}"))])
    await eventually(lambda: _count_at_least(node, 120))
    counts = await node.effect_counts()
    assert len(counts) == 120 and set(counts.values()) == {1}
    # 60 effects: bundles of 50 and 10; 60 bulk effects likewise
    assert node.consumer.deliveries == 4
    assert node.consumer.applied == 120 and node.consumer.duplicates == 0
    assert sum(node.bulk_calls) == 60 and max(node.bulk_calls) >= MAX_BUNDLE  # still set-based
    assert all(r.sent_at is not None for r in await outbox_rows(node))


async def test_a_poisoned_envelope_dead_letters_its_bundle_and_a_replay_applies_only_it(
    node: Node, amqp_url: str
) -> None:
    good = [Effect(key=f"good-{i}") for i in range(5)]
    [*_, poison] = await node.send(*good, Effect(key="poison", permanent=True))
    await eventually(lambda: _is(node.consumer.dead_lettered == 1))
    assert await node.effect_counts() == {f"good-{i}": 1 for i in range(5)}

    [letter] = await dead_letters(amqp_url, node)
    reason = str((letter.headers or {})[REASON_HEADER])
    assert reason.startswith(f"envelope {poison.message_id} of a bundle: ")
    assert "refused by the handler" in reason
    assert len(json.loads(letter.body)) == 6  # the whole delivery, as it came

    # Delivered again (an operator's replay): the applied five are duplicates to the inbox.
    await publish_raw(
        amqp_url,
        poison.routing_key,
        letter.body,
        message_id=letter.message_id,
        headers=node.signed(letter.body),
    )
    await eventually(lambda: _is(node.consumer.dead_lettered == 2))
    assert node.consumer.duplicates == 5
    assert await node.effect_counts() == {f"good-{i}": 1 for i in range(5)}


async def test_a_transient_failure_retries_the_bundle_and_applies_the_rest_once(
    node: Node,
) -> None:
    await node.send(Effect(key="a"), Effect(key="flaky", fail_times=2), Effect(key="b"))
    await eventually(lambda: _has(node, "flaky"))
    assert await node.effect_counts() == {"a": 1, "flaky": 1, "b": 1}
    assert node.failures["flaky"] == 2
    # The batch failed, then one by one a and b applied and flaky failed again: the retried
    # delivery brought a and b back as duplicates, and applied flaky.
    assert node.consumer.duplicates == 2
    assert node.consumer.dead_lettered == 0


async def test_a_bundle_with_one_misattributed_envelope_is_refused_whole(
    node: Node, amqp_url: str
) -> None:
    """A signer may bundle only envelopes of units it speaks for: one foreign source refuses
    the whole delivery, with a security alert, and nothing of it applies."""
    good = node.envelope(Effect(key="fine")).model_dump(mode="json")
    foreign = {
        **node.envelope(Effect(key="smuggled")).model_dump(mode="json"),
        "source": {"tier": "school", "code": random_unit().code},
    }
    body = json.dumps([good, foreign]).encode()
    key = node.envelope(Effect(key="x")).routing_key
    await publish_raw(amqp_url, key, body, message_id="mixed", headers=node.signed(body))

    await eventually(lambda: _is(node.consumer.dead_lettered == 1))
    assert node.consumer.security_alerts["source_not_hosted_by_signer"] == 1
    assert await node.total_effects() == 0
    [letter] = await dead_letters(amqp_url, node)
    assert f"source unit {foreign['source']['tier']}:{foreign['source']['code']} is not hosted" in (
        str((letter.headers or {})[REASON_HEADER])
    )


# -- the inbox's memory ------------------------------------------------------------------------


async def test_the_inbox_forgets_only_this_consumers_rows_older_than_its_retention(
    node: Node,
) -> None:
    await node.send(*[Effect(key=f"k{i}") for i in range(5)])
    await eventually(lambda: _count_at_least(node, 5))
    now = datetime.now(UTC)
    async with node.sessions() as session, session.begin():
        await session.execute(  # another consumer's row, as old as can be
            inbox.insert().values(
                consumer="someone-else",
                message_id="other",
                message_type="test.effect",
                processed_at=now - timedelta(days=3650),
            )
        )
    assert await node.consumer.prune(now) == 0  # all recent
    # a retention from now: what the periodic prune would cut, two rows per transaction
    cutoff = now + timedelta(minutes=1)
    assert await prune_inbox(node.sessions, node.name, cutoff, chunk=2) == 5
    assert await node.consumer.prune(now + node.consumer.inbox_retention) == 0  # none left
    async with node.sessions() as session:
        left = (await session.execute(select(inbox.c.consumer))).scalars().all()
    assert left == ["someone-else"]


async def test_the_inbox_cannot_forget_sooner_than_messages_stay_fresh(node: Node) -> None:
    with pytest.raises(ValueError, match="longer than they stay fresh"):
        MessageConsumer(
            topology=node.topology,
            handlers=HandlerRegistry(),
            session_factory=node.sessions,
            broker=node.broker,
            verifier=node.consumer._verifier,
            inbox_retention=timedelta(hours=72),
        )


async def test_the_consumer_prunes_its_inbox_periodically(
    database_url: str, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = await Node(unique_name(), random_unit(), database_url, amqp_url).start(consumer=False)
    rounds: list[datetime | None] = []

    async def counted(now: datetime | None = None) -> int:
        rounds.append(now)
        return 0

    monkeypatch.setattr(idle.consumer, "prune", counted)
    idle.consumer._prune_interval = 0.05
    idle.consumer.start()
    try:
        await eventually(lambda: _is(len(rounds) >= 3), timeout=5)
    finally:
        await idle.stop()
