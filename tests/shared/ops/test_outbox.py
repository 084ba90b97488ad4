"""``xueji-ops outbox``: backlog, oldest unsent message and the last errors, from the database."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.ops.cli import main
from shared.ops.outbox import outbox_report
from tests.shared.messaging.harness import (
    Effect,
    Node,
    effects,
    eventually,
    random_unit,
    unique_name,
)

pytestmark = pytest.mark.broker


async def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), out)  # the tool runs its own event loop
    return code, out.getvalue()


async def test_outbox_shows_backlog_and_why_messages_are_stuck(
    tmp_path: Path, amqp_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    node = await Node(unique_name("ops-outbox"), random_unit(), url, amqp_url).start(
        relay=False, consumer=False
    )
    try:
        (stuck,) = await node.send(Effect(key="nowhere"), target=random_unit())  # no queue bound
        await node.relay.relay_once()
        await node.send(Effect(key="waiting"))
    finally:
        await node.stop()

    report = await asyncio.to_thread(outbox_report, url)
    assert report.unsent == 2 and report.sent_retained == 0
    assert report.oldest_age_seconds() is not None and report.oldest_age_seconds() > 0
    (error,) = report.errors
    assert error.message_id == str(stuck.message_id) and error.attempts == 1
    assert error.last_error.startswith("unroutable")

    code, printed = await run("outbox", "--database-url", url)
    assert code == 0
    assert "unsent: 2" in printed and "last errors:" in printed and str(stuck.message_id) in printed

    code, printed = await run("outbox", "--database-url", url, "--json")
    assert json.loads(printed)["unsent"] == 2

    # --instance finds a locally run instance's database through federation.json
    data = tmp_path / "var"
    (data / "db").mkdir(parents=True)
    shutil.copy(tmp_path / "node.db", data / "db" / "school-41.sqlite")
    (data / "federation.json").write_text(
        json.dumps({"broker": {"amqp_url": amqp_url}, "instances": [{"name": "school-41"}]})
    )
    code, printed = await run(
        "--federation", str(data / "federation.json"), "outbox", "--instance", "school-41"
    )
    assert code == 0 and "unsent: 2" in printed
    code, _ = await run(
        "--federation", str(data / "federation.json"), "outbox", "--instance", "school-99"
    )
    assert code == 2


async def test_resend_gives_a_receiver_restored_from_a_backup_what_it_lost(
    tmp_path: Path, amqp_url: str
) -> None:
    """The receiver is restored from a copy of its database taken between two messages: the
    first is in its restored inbox, the second is lost. ``xueji-ops resend`` from the sender's
    outbox publishes both again: the first is dropped as a duplicate, the second applied."""
    sender_url = f"sqlite+aiosqlite:///{tmp_path / 'sender.db'}"
    receiver_db = tmp_path / "receiver.db"
    receiver_url = f"sqlite+aiosqlite:///{receiver_db}"
    sender = Node(unique_name("ops-resend-a"), random_unit(), sender_url, amqp_url)
    receiver = Node(unique_name("ops-resend-b"), random_unit(), receiver_url, amqp_url)
    other = random_unit()  # a unit the restored receiver does not host: never re-sent
    receiver.trusted.append(sender.trusted_key)
    await sender.start(relay=False, consumer=False)
    receiver = await receiver.start()

    async def applied() -> list[str]:
        async with receiver.sessions() as session:
            return list((await session.execute(select(effects.c.key))).scalars())

    try:
        since = datetime.now(UTC)
        await sender.send(Effect(key="before-backup"), target=receiver.unit)
        await sender.relay.relay_once()
        await eventually(lambda: _has(applied, ["before-backup"]))
        await receiver.stop()
        shutil.copy(receiver_db, tmp_path / "backup.db")
        receiver = await receiver.start()
        await sender.send(Effect(key="after-backup"), target=receiver.unit)
        await sender.send(Effect(key="elsewhere"), target=other)  # unroutable, never sent
        await sender.relay.relay_once()
        await eventually(lambda: _has(applied, ["before-backup", "after-backup"]))
        await receiver.stop()
        shutil.copy(tmp_path / "backup.db", receiver_db)  # the restore
        receiver = await receiver.start()
        assert await applied() == ["before-backup"]

        code, printed = await run(
            "resend", "--database-url", sender_url, "--to", str(receiver.unit),
            "--since", since.isoformat(), "--dry-run",
        )  # fmt: skip
        assert (code, printed.split()[:3]) == (0, ["would", "re-send", "2"])
        assert (await asyncio.to_thread(outbox_report, sender_url)).unsent == 1  # unroutable
        code, printed = await run(
            "resend", "--database-url", sender_url, "--to", str(receiver.unit),
            "--since", since.isoformat(),
        )  # fmt: skip
        assert code == 0 and "re-sending 2 message(s)" in printed
        assert (await asyncio.to_thread(outbox_report, sender_url)).unsent == 3
        await sender.relay.relay_once()
        await eventually(lambda: _has(applied, ["before-backup", "after-backup"]))
        duplicates = receiver.consumer.outcomes
        await eventually(
            lambda: _true(sum(n for (_, o), n in duplicates.items() if o == "duplicate") == 1)
        )
        assert sorted(await applied()) == ["after-backup", "before-backup"]
    finally:
        await receiver.stop()
        await sender.stop()


async def _has(read: Callable[[], Awaitable[list[str]]], keys: list[str]) -> bool:
    return sorted(await read()) == sorted(keys)


async def _true(value: bool) -> bool:
    return value


def test_resend_wants_a_time_zone_and_units() -> None:
    with pytest.raises(SystemExit):
        main(["resend", "--database-url", "sqlite+aiosqlite:///x", "--since", "2026-12-06T10:00"])
    with pytest.raises(SystemExit):
        main(["resend", "--database-url", "x", "--to", "district:1", "--since", "2026-12-06"])
