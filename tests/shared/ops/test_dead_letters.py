"""``xueji-ops dead-letters``: browse without consuming, replay exactly once."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import select

from shared.audit.tables import GENESIS, audit_entry, audit_head
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from shared.messaging.topology import DEAD_EXCHANGE
from shared.ops.audit import verify_chain
from shared.ops.cli import main
from shared.ops.dead_letters import DeadLetter, list_dead_letters, replay_dead_letters
from tests.shared.messaging.harness import Effect, Node, eventually, random_unit, unique_name

pytestmark = pytest.mark.broker


class SwitchableNode(Node):
    """Refuses the effects whose key is in ``refused`` for good — until an operator fixes it."""

    refused: set[str]

    async def _apply_effect(self, ctx: HandlerContext, effect: Effect) -> None:
        if effect.key in self.refused:
            raise PermanentMessageError(f"effect {effect.key} cannot apply yet")
        await super()._apply_effect(ctx, effect)


@pytest.fixture
async def node(tmp_path: Path, amqp_url: str) -> AsyncIterator[SwitchableNode]:
    started = SwitchableNode(
        unique_name("ops"), random_unit(), f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}", amqp_url
    )
    started.refused = set()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def dead_lettered(node: Node, amqp_url: str, count: int) -> list[DeadLetter]:
    async def arrived() -> bool:
        return node.consumer.dead_lettered >= count

    await eventually(arrived)
    return list_dead_letters(amqp_url, node.name)


async def put_back(amqp_url: str, node: Node, letter: DeadLetter) -> None:
    """Put a copy of ``letter`` in the dead queue again: as if a replay died before its ack."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(DEAD_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                letter.body,
                headers=letter.headers,
                message_id=letter.message_id,
                type=letter.type,
                content_type="application/json",
            ),
            node.topology.queue_name,
        )


async def test_listing_shows_dead_letters_and_leaves_them_in_place(
    node: SwitchableNode, amqp_url: str
) -> None:
    node.refused = {"broken"}
    (sent,) = await node.send(Effect(key="broken"))
    (letter,) = await dead_lettered(node, amqp_url, 1)
    assert letter.message_id == str(sent.message_id)
    assert letter.type == "test.effect"
    assert letter.source == letter.target == str(node.unit)
    assert letter.failed_at and letter.failed_by == node.name
    assert "cannot apply yet" in letter.reason
    assert letter.routing_key == sent.routing_key

    out = io.StringIO()
    assert (
        main(["dead-letters", "list", "--instance", node.name, "--amqp-url", amqp_url], out=out)
        == 0
    )
    printed = out.getvalue()
    assert f"1 dead letter(s) in xueji.{node.name}.dead" in printed
    assert str(sent.message_id) in printed and "cannot apply yet" in printed

    out = io.StringIO()
    main(
        ["dead-letters", "list", "--instance", node.name, "--amqp-url", amqp_url, "--json"], out=out
    )
    assert json.loads(out.getvalue())["message_id"] == str(sent.message_id)
    assert [d.message_id for d in list_dead_letters(amqp_url, node.name)] == [letter.message_id]


async def test_a_replayed_dead_letter_is_applied_exactly_once(
    node: SwitchableNode, amqp_url: str
) -> None:
    node.refused = {"fixed-later", "still-broken"}
    (fixed,) = await node.send(Effect(key="fixed-later"))
    await dead_lettered(node, amqp_url, 1)  # two deliveries (sent together, one bundle)
    (other,) = await node.send(Effect(key="still-broken"))
    letters = await dead_lettered(node, amqp_url, 2)
    assert {d.message_id for d in letters} == {str(fixed.message_id), str(other.message_id)}
    assert await node.effect_counts() == {}

    node.refused = {"still-broken"}  # the operator fixed the cause of one of them
    out = io.StringIO()
    code = main(
        [
            "dead-letters",
            "replay",
            "--instance",
            node.name,
            "--amqp-url",
            amqp_url,
            "--message-id",
            str(fixed.message_id),
        ],
        out=out,
    )
    assert code == 0, out.getvalue()
    assert "1 replayed, 0 kept, 0 not found" in out.getvalue()

    async def applied() -> bool:
        return (await node.effect_counts()).get("fixed-later") == 1

    await eventually(applied)
    remaining = list_dead_letters(amqp_url, node.name)
    assert [d.message_id for d in remaining] == [str(other.message_id)]  # the other one stays

    # The same dead letter comes back (a replay that died between confirm and ack):
    # replaying it again is harmless, the inbox knows the message id.
    original = next(d for d in letters if d.message_id == str(fixed.message_id))
    await put_back(amqp_url, node, original)
    duplicates = node.consumer.duplicates
    report = replay_dead_letters(amqp_url, node.name, message_ids=[str(fixed.message_id)])
    assert report.replayed == [str(fixed.message_id)]

    async def skipped() -> bool:
        return node.consumer.duplicates == duplicates + 1

    await eventually(skipped)
    assert (await node.effect_counts()).get("fixed-later") == 1
    assert [d.message_id for d in list_dead_letters(amqp_url, node.name)] == [str(other.message_id)]


async def test_replay_strips_failure_headers_and_reports_unknown_ids(
    node: SwitchableNode, amqp_url: str
) -> None:
    node.refused = {"a"}
    (sent,) = await node.send(Effect(key="a", fail_times=0))
    (letter,) = await dead_lettered(node, amqp_url, 1)
    assert {"x-failure-reason", "x-failed-at", "x-original-routing-key"} <= set(letter.headers)

    node.refused = {"a"}  # still broken: the replayed message is dead-lettered again
    report = replay_dead_letters(amqp_url, node.name, message_ids=[str(sent.message_id), "nope"])
    assert report.replayed == [str(sent.message_id)] and report.not_found == ["nope"]
    (again,) = await dead_lettered(node, amqp_url, 2)
    assert again.headers["x-attempt"] == 1  # counting started afresh
    assert "x-replayed-at" in again.headers


async def test_a_dead_letter_that_came_back_from_a_retry_queue_replays_to_its_unit(
    node: SwitchableNode, amqp_url: str
) -> None:
    # Failing every attempt, it returns from the delay queues through xueji.retry, so
    # x-original-routing-key is the instance's requeue key; the replay uses the envelope's key.
    (sent,) = await node.send(Effect(key="flaky", fail_times=10))
    (letter,) = await dead_lettered(node, amqp_url, 1)
    assert "gave up after" in letter.reason
    assert letter.headers["x-original-routing-key"] == node.topology.requeue_key
    assert letter.routing_key == sent.routing_key

    node.failures["flaky"] = 10  # the cause is gone
    assert (
        main(
            ["dead-letters", "replay", "--instance", node.name, "--amqp-url", amqp_url, "--all"],
            out=io.StringIO(),
        )
        == 0
    )

    async def applied() -> bool:
        return (await node.effect_counts()).get("flaky") == 1

    await eventually(applied)


def test_an_unknown_instance_is_an_operator_error(
    amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dead-letters", "list", "--instance", "no-such-instance", "--amqp-url", amqp_url])
    assert code == 2
    assert "no queue xueji.no-such-instance.dead" in capsys.readouterr().err


async def test_a_dead_bundle_from_a_retry_queue_lists_its_units_and_replays_only_the_rest(
    node: SwitchableNode, amqp_url: str
) -> None:
    """A bundle (decision 0021) whose one envelope gave up: the listing names its units and
    key from the first envelope, and the replay applies the failed one, not the others again."""
    ok, flaky = await node.send(Effect(key="ok"), Effect(key="flaky", fail_times=10))
    (letter,) = await dead_lettered(node, amqp_url, 1)
    assert letter.reason.startswith(f"envelope {flaky.message_id} of a bundle: gave up after")
    assert letter.routing_key == flaky.routing_key  # the body is a JSON array of envelopes
    assert (letter.source, letter.target) == (str(node.unit), str(node.unit))
    assert await node.effect_counts() == {"ok": 1}

    node.failures["flaky"] = 10  # the cause is gone
    duplicates = node.consumer.duplicates
    # chosen by the id of the envelope that failed
    report = replay_dead_letters(amqp_url, node.name, message_ids=[str(flaky.message_id)])
    assert report.replayed == [letter.message_id] and report.not_found == []

    async def applied() -> bool:
        return (await node.effect_counts()).get("flaky") == 1

    await eventually(applied)
    assert await node.effect_counts() == {"ok": 1, "flaky": 1}
    assert node.consumer.duplicates == duplicates + 1  # ok, known to the inbox
    assert letter.message_id == str(ok.message_id)  # a bundle goes by its first envelope's id
    assert letter.envelope_ids == (str(ok.message_id), str(flaky.message_id))


async def test_a_dead_letter_older_than_the_inbox_remembers_is_replayed_only_when_forced(
    node: SwitchableNode, amqp_url: str
) -> None:
    node.refused = {"old"}
    (sent,) = await node.send(Effect(key="old"))
    (letter,) = await dead_lettered(node, amqp_url, 1)
    node.refused = set()
    month_later = datetime.now(UTC) + timedelta(days=30)
    chosen = [letter.message_id]

    report = replay_dead_letters(amqp_url, node.name, message_ids=chosen, now=month_later)
    assert report.replayed == []
    assert "near or past the inbox's memory (30 days)" in report.refused[letter.message_id]
    longer = replay_dead_letters(  # an instance that remembers longer is not at risk
        amqp_url, node.name, message_ids=chosen, now=month_later, inbox_retention=timedelta(60)
    )
    assert longer.replayed == chosen
    await eventually(lambda: _applied(node, "old", 1))

    # Through the command line: a one-day memory keeps even a fresh letter, --force replays it.
    node.refused = {"old-too"}
    await node.send(Effect(key="old-too"))
    (again,) = await dead_lettered(node, amqp_url, 2)
    node.refused = set()
    command = ["dead-letters", "replay", "--instance", node.name, "--amqp-url", amqp_url]
    command += ["--message-id", again.message_id, "--inbox-retention-days", "1"]
    out = io.StringIO()
    assert main(command, out=out) == 1
    assert "0 replayed, 1 kept" in out.getvalue() and "--force" in out.getvalue()
    assert main([*command, "--force"], out=io.StringIO()) == 0
    await eventually(lambda: _applied(node, "old-too", 1))
    assert str(sent.message_id) == letter.message_id


async def _applied(node: Node, key: str, times: int) -> bool:
    return (await node.effect_counts()).get(key) == times


async def test_discard_removes_only_the_named_dead_letter_and_audits_it_first(
    node: SwitchableNode, amqp_url: str
) -> None:
    node.refused = {"obsolete", "kept"}
    (obsolete,) = await node.send(Effect(key="obsolete"))
    await dead_lettered(node, amqp_url, 1)
    (kept,) = await node.send(Effect(key="kept"))
    await dead_lettered(node, amqp_url, 2)
    async with node.engine.begin() as conn:  # the genesis head its migrations write
        await conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))

    command = ["dead-letters", "discard", "--instance", node.name, "--amqp-url", amqp_url]
    target = ["--database-url", node.database_url]
    out = io.StringIO()
    with pytest.raises(SystemExit):  # a discard needs a reason
        main([*command, "--message-id", str(obsolete.message_id), *target], out=out)
    reason = "学校已撤销该申请，消息作废"
    code = await asyncio.to_thread(  # the tool runs its own event loop
        main,
        [
            *command,
            "--message-id",
            str(obsolete.message_id),
            "--message-id",
            "no-such-id",
            "--reason",
            reason,
            *target,
        ],
        out,
    )
    assert code == 1, out.getvalue()  # one id was not found
    assert "1 discarded, 1 not found" in out.getvalue()
    assert [d.message_id for d in list_dead_letters(amqp_url, node.name)] == [str(kept.message_id)]
    assert await node.effect_counts() == {}  # discarded: never applied
    async with node.sessions() as session:
        [entry] = (await session.execute(select(audit_entry))).all()
    assert (entry.action, entry.object_id, entry.purpose, entry.actor_roles) == (
        "discard",
        str(obsolete.message_id),
        reason,
        "operator",
    )
    assert entry.outcome.startswith("dead letter: ") and "obsolete" in entry.outcome
    assert (await asyncio.to_thread(verify_chain, node.database_url)).ok
