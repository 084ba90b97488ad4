"""The restore drill (issue 23; docs/runbook.md): province 41's database is dumped
mid-run with ``pg_dump -Fc``, the federation keeps working, the province is stopped, its
database dropped and restored from the dump with ``pg_restore``, and the province restarted.

What the runbook says happens, asserted here on PostgreSQL with real processes and RabbitMQ:

- **re-delivered by itself**: what other tiers sent while the province was down waited in its
  queue (durable, quorum) and is applied when it comes back (student D's archive);
- **lost**: what the province applied or wrote after the dump and before it stopped: its
  inbox forgot those messages and the broker had them acknowledged, so nothing brings them
  back by itself (student B's transfer, completed after the dump: the archive is back at the
  sending school; student C's archive, filed after the dump, is gone). The other tiers are
  untouched (national still has B at the receiving school);
- **kept**: what the dump holds (student A's transfer, completed before it);
- **reconciled** with ``xueji-ops resend`` run against every other instance's database: their
  outboxes keep sent rows (2 days), so what they sent to ``province:41`` since the dump (less
  a margin) is published again; the restored inbox applies what it no longer remembers (B's
  archive moves, C's archive is filed again) and drops the rest as duplicates. Messages the
  province emits again while re-applying (its discipline check on B's step) reach national as
  decisions on a step long decided, which national ignores: no dead letter anywhere.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.launcher import LocalFederation
from devtools.postgres import LocalPostgres
from shared.federation.config import Tier
from shared.ops.cli import main as xueji_ops
from tests.integration.conftest import Federation
from tests.integration.transfer_support import drive, enrolled_student, request_transfer
from tests.shared.messaging.harness import eventually

SENDING, RECEIVING = "4101020001", "4101020003"


def pg_tool(server: LocalPostgres, tool: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    command = [str(server.bindir / tool), "-h", server.host, "-p", str(server.port)]
    result = subprocess.run(
        [*command, "-U", server.user, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0, f"{tool} {args}: {result.stdout}{result.stderr}"


async def archive_at(fed: Federation, school: str, number: str) -> int:
    """The province's answer for the student's live archive under ``school`` (200 or 404)."""
    path = f"/api/v1/schools/{school}/archives/{number}"
    return (await fed.get("province", "41", path)).status_code


async def becomes(fed: Federation, school: str, number: str, status: int) -> None:
    async def reached() -> bool:
        return await archive_at(fed, school, number) == status

    await eventually(reached, timeout=60, interval=0.2)


async def counter(fed: Federation, base_url: str, name: str, **labels: str) -> float:
    text = (await fed.http.get(base_url + "/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def transferred(fed: Federation, kid: dict[str, str]) -> None:
    started = await request_transfer(fed, kid, RECEIVING)
    assert (await drive(fed, str(started["transfer_id"])))["state"] == "completed"


async def test_a_province_restored_from_a_dump_loses_what_came_after_and_is_reconciled(
    federation: LocalFederation,
    fed: Federation,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    if federation.database_url_for is None:
        pytest.skip("the restore drill runs on PostgreSQL (pg_dump / pg_restore)")
    server: LocalPostgres = request.getfixturevalue("postgres")
    province = federation.instance_for_unit(Tier.PROVINCE, "41").name
    database = province.replace("-", "_")  # the federation fixture's name for its database
    province_url = federation.base_url(province)
    national_url = federation.base_url(federation.instance_for_unit(Tier.NATIONAL, "CN").name)
    since = datetime.now(UTC)  # the dump's time less a margin: the consumers' lag

    # Before the dump: A is transferred, B enrolled (the province files both archives).
    a = await enrolled_student(fed, SENDING)
    await transferred(fed, a)
    await becomes(fed, RECEIVING, a["student_number"], 200)
    b = await enrolled_student(fed, SENDING)
    await becomes(fed, SENDING, b["student_number"], 200)

    dump = tmp_path / "province-41.dump"
    pg_tool(server, "pg_dump", "-Fc", "-f", str(dump), database)

    # After the dump, the federation keeps working: B is transferred, C enrolled.
    await transferred(fed, b)
    await becomes(fed, RECEIVING, b["student_number"], 200)
    c = await enrolled_student(fed, SENDING)
    await becomes(fed, SENDING, c["student_number"], 200)

    federation.stop_instance(province)
    try:
        # While the province is down, D is enrolled: its archive waits in the province's queue.
        d = await enrolled_student(fed, SENDING)
        server.drop_database(database)
        server.create_database(database)
        pg_tool(server, "pg_restore", "--no-owner", "-d", database, str(dump))
    finally:
        federation.start_instance(province, timeout=180)

    # Re-delivered: what waited in RabbitMQ while it was down.
    await becomes(fed, SENDING, d["student_number"], 200)
    # Kept: what the dump holds.
    assert await archive_at(fed, RECEIVING, a["student_number"]) == 200
    # Lost: what the province applied after the dump (national still knows better).
    assert await archive_at(fed, SENDING, b["student_number"]) == 200
    assert await archive_at(fed, RECEIVING, b["student_number"]) == 404
    assert await archive_at(fed, SENDING, c["student_number"]) == 404
    registry = await fed.get("national", "CN", f"/api/v1/registry/{b['student_number']}")
    assert registry.json()["school_code"] == RECEIVING

    # Reconcile: every other instance re-sends what it sent to province:41 since the dump.
    duplicates = await counter(fed, province_url, "xueji_messages_in_total", outcome="duplicate")
    dead = await counter(fed, national_url, "xueji_messages_dead_lettered_total")
    resent = 0
    for instance in federation.instances:
        if instance.name == province:
            continue
        out = io.StringIO()
        argv = ["resend", "--database-url", federation.database_url_for(instance.name)]
        argv += ["--to", "province:41", "--since", since.isoformat()]
        assert await asyncio.to_thread(xueji_ops, argv, out) == 0
        resent += int(out.getvalue().split()[1])
    assert resent > 0

    await becomes(fed, RECEIVING, b["student_number"], 200)
    await becomes(fed, SENDING, b["student_number"], 404)
    await becomes(fed, SENDING, c["student_number"], 200)
    backup = await fed.get(
        "province", "41", f"/api/v1/schools/{SENDING}/archive-backups/{b['student_number']}"
    )
    assert backup.status_code == 200
    assert await archive_at(fed, RECEIVING, a["student_number"]) == 200
    assert await archive_at(fed, SENDING, d["student_number"]) == 200

    # What the restored inbox still remembered (sent before the dump) came back as duplicates.
    async def dropped() -> bool:
        now = await counter(fed, province_url, "xueji_messages_in_total", outcome="duplicate")
        return now > duplicates

    await eventually(dropped, timeout=30, interval=0.2)
    # The province's own messages emitted again (a new id each) change nothing at national.
    assert await counter(fed, national_url, "xueji_messages_dead_lettered_total") == dead
