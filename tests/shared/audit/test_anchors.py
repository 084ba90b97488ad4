"""Audit anchors (decision 0027): an instance's head, signed with its key, travels to the level
above on the real broker and is kept there; ``xueji-ops audit verify`` then finds a chain that
was rewritten and recomputed in the instance's own database, which a plain walk cannot."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

from sqlalchemy import insert, select

from devtools.testing import REPO_CONFIG, federation_copy, instance_name
from shared.audit.anchors import anchor_targets
from shared.audit.chain import append, digest, entry_of
from shared.audit.tables import audit_anchor, audit_entry
from shared.db.engine import SessionFactory, make_engine, make_session_factory
from shared.federation.config import UnitRef, load_federation
from shared.messaging.keys import TRUST_FILE, generate_federation_keys, private_key_path
from shared.ops.cli import main
from tests.security.running import running
from tests.shared.audit.support import entry, tamper
from tests.shared.messaging.harness import eventually


def units(*names: str) -> list[UnitRef]:
    return [UnitRef.parse(name) for name in names]


def test_each_instance_anchors_with_the_units_directly_above_its_own() -> None:
    federation = load_federation(REPO_CONFIG)
    targets = {i.name: [t for _, t in anchor_targets(federation, i)] for i in federation.instances}
    # school-41 hosts schools of two counties and a province-direct school
    assert targets["school-41"] == units("county:410102", "county:410105", "province:41")
    assert targets["county-33"] == units("province:33")
    assert targets["province-51"] == units("national:CN")
    assert targets["national"] == units("province:33", "province:41", "province:51")
    # the source is always a unit the sending instance hosts (the consumer checks it)
    for instance in federation.instances:
        for source, _ in anchor_targets(federation, instance):
            assert source.tier == instance.tier and source.code in instance.units


async def run_ops(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), out)  # the tool runs its own event loop
    return code, out.getvalue()


async def recompute_from(sessions: SessionFactory, seq: int) -> None:
    """What an intruder with write access does: change entry ``seq``, then recompute every
    hash after it and the head, so that the chain is consistent again."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(audit_entry).where(audit_entry.c.seq >= seq).order_by(audit_entry.c.seq)
            )
        ).all()
        previous = rows[0].prev_hash
    statements = []
    for row in rows:
        fields = entry_of(row)
        if row.seq == seq:
            fields = replace(fields, purpose="篡改后的用途")
            statements.append(
                f"UPDATE kernel_audit_entry SET purpose = '篡改后的用途' WHERE seq = {row.seq}"
            )
        new_hash = digest(previous, row.seq, fields, None)
        statements.append(
            f"UPDATE kernel_audit_entry SET prev_hash = '{previous}', hash = '{new_hash}' "
            f"WHERE seq = {row.seq}"
        )
        previous = new_hash
    statements.append(f"UPDATE kernel_audit_head SET hash = '{previous}'")
    await tamper(sessions, *statements)


async def test_an_anchor_kept_above_finds_a_recomputed_chain_a_plain_walk_passes(
    tmp_path: Path, database_url: str, amqp_url: str
) -> None:
    config = federation_copy(tmp_path / "federation")
    keys = tmp_path / "keys"
    trust = generate_federation_keys(load_federation(config), keys)
    county_url = f"sqlite+aiosqlite:///{tmp_path}/county.sqlite"
    school_name = instance_name(config, "school-41")

    def signing(base: str) -> dict[str, object]:  # production's code path: key files
        key = private_key_path(keys, instance_name(config, base))
        return {"signing_key_file": key, "trusted_keys_file": trust}

    async with AsyncExitStack() as stack:
        school = await stack.enter_async_context(
            running("school", config, "school-41", database_url, amqp_url, **signing("school-41"))
        )
        county = await stack.enter_async_context(
            running("county", config, "county-41", county_url, amqp_url, **signing("county-41"))
        )
        sessions = school.runtime.sessions
        for n in range(5):
            async with sessions() as session:
                await session.run_sync(append, entry(n), None)
                await session.commit()

        sent = await school.runtime.anchoring.anchor()
        assert sent is not None and sent.seq == 5 and sent.key_id == school_name
        assert await school.runtime.anchoring.anchor() is None  # the head did not move

        async def kept() -> list[tuple[int, str, str]]:
            async with county.runtime.sessions() as session:
                rows = await session.execute(
                    select(
                        audit_anchor.c.seq, audit_anchor.c.hash, audit_anchor.c.source_unit
                    ).where(audit_anchor.c.instance == school_name)
                )
                return [tuple(row) for row in rows]  # type: ignore[misc]

        async def arrived() -> bool:
            return bool(await kept())

        await eventually(arrived, timeout=30)
        # county-41 hosts both counties school-41 reports to: the anchor is kept once
        assert await kept() == [(5, sent.hash, "school:4101020001")]

    verify = ("--federation", str(tmp_path / "none.json"), "audit", "verify")
    target = ("--database-url", database_url, "--instance", school_name)
    above = ("--anchors-from", county_url, "--trusted-keys", str(keys / TRUST_FILE))
    code, output = await run_ops(*verify, *target, *above)
    assert code == 0, output
    assert f"anchor held above: 5:{sent.hash} (signature checked)" in output

    engine = make_engine(database_url)
    try:
        await recompute_from(make_session_factory(engine), 3)
    finally:
        await engine.dispose()
    code, output = await run_ops(*verify, *target, "--no-held-anchors")
    assert code == 0, output  # consistent in itself: the walk alone cannot tell
    code, output = await run_ops(*verify, *target, *above)
    assert code == 1, output
    assert "BROKEN at entry 5" in output and "anchored" in output
    code, output = await run_ops(*verify, *target, *above, "--json")
    report = json.loads(output)
    assert (code, report["ok"], report["anchor"]) == (1, False, f"5:{sent.hash}")

    # an anchor forged in the database above (no valid signature) is refused, not trusted
    county_engine = make_engine(county_url)
    try:
        async with county_engine.begin() as connection:
            forged = {"instance": school_name, "seq": 9, "hash": "f" * 64, "key_id": school_name}
            await connection.execute(
                insert(audit_anchor).values(
                    **forged,
                    anchored_at=sent.anchored_at,
                    signature=sent.signature,
                    source_unit="school:4101020001",
                    received_at=sent.anchored_at,
                )
            )
    finally:
        await county_engine.dispose()
    code, output = await run_ops(*verify, *target, *above)
    assert code == 1 and "anchor refused" in output and "BROKEN at entry 5" in output
