"""``xueji-ops outbox``: backlog, oldest unsent message and the last errors, from the database."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

import pytest

from shared.ops.cli import main
from shared.ops.outbox import outbox_report
from tests.shared.messaging.harness import Effect, Node, random_unit, unique_name

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
