"""``xueji-ops audit verify``: every instance of a tier, the key, the anchor, the exit code."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from sqlalchemy import text

from shared.audit.chain import append
from shared.db.engine import make_engine, make_session_factory
from shared.ops.cli import main
from tests.databases import migrate_to_head
from tests.shared.audit.support import entry, tamper

KEY = b"kept in the secret store"


async def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), out)  # the tool runs its own event loop
    return code, out.getvalue()


async def chain(url: str, count: int, key: bytes | None = None) -> None:
    await asyncio.to_thread(migrate_to_head, "school", url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        for n in range(count):
            async with sessions() as session:
                await session.run_sync(append, entry(n), key)
                await session.commit()
    finally:
        await engine.dispose()


def running_federation(data: Path, *names: str) -> Path:
    """``federation.json`` as ``make run`` writes it, the databases under ``data/db``."""
    (data / "db").mkdir(parents=True)
    instances = [{"name": name, "tier": "school", "units": [], "base_url": ""} for name in names]
    path = data / "federation.json"
    path.write_text(json.dumps({"broker": {}, "instances": instances}))
    return path


async def test_every_school_instance_is_verified_and_a_break_fails_the_run(tmp_path: Path) -> None:
    federation = running_federation(tmp_path, "school-41", "school-33")
    urls = {
        name: f"sqlite+aiosqlite:///{tmp_path / 'db' / f'{name}.sqlite'}"
        for name in ("school-41", "school-33")
    }
    await chain(urls["school-41"], 4)
    await chain(urls["school-33"], 2)

    code, text = await run("--federation", str(federation), "audit", "verify", "--tier", "school")
    assert code == 0
    assert "school-41: ok, 4 entries" in text and "school-33: ok, 2 entries" in text

    engine = make_engine(urls["school-33"])
    try:
        await tamper(make_session_factory(engine), "DELETE FROM kernel_audit_entry WHERE seq = 1")
    finally:
        await engine.dispose()
    code, text = await run(
        "--federation", str(federation), "audit", "verify", "--tier", "school", "--json"
    )
    results = {line["database"]: line for line in map(json.loads, text.splitlines())}
    assert code == 1
    assert results["school-41"]["ok"] is True
    assert (results["school-33"]["ok"], results["school-33"]["broken_seq"]) == (False, 1)


async def test_a_keyed_chain_needs_its_key_and_an_anchor_must_still_be_there(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'school.sqlite'}"
    await chain(url, 3, key=KEY)
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")

    code, text = await run("audit", "verify", "--database-url", url)
    assert code == 1 and "BROKEN at entry 1" in text
    code, text = await run("audit", "verify", "--database-url", url, "--key-file", str(key_file))
    assert code == 0
    head = text.split("anchor) ")[1].strip()
    assert head.startswith("3:")

    stale = "7:" + "0" * 64  # an anchor from a longer chain than the one left
    code, text = await run(
        "audit", "verify", "--database-url", url, "--key-file", str(key_file), "--anchor", stale
    )
    assert code == 1 and "anchored entry 7 is gone" in text
    code, text = await run(
        "audit", "verify", "--database-url", url, "--key-file", str(key_file), "--anchor", head
    )
    assert code == 0
    code, _ = await run("audit", "verify", "--database-url", url, "--anchor", "nonsense")
    assert code == 2


async def test_an_anchor_file_catches_a_cut_tail_with_a_rewound_head(tmp_path: Path) -> None:
    """Each run records the head; the next run finds the chain cut back behind it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'school.sqlite'}"
    anchors = tmp_path / "anchors.jsonl"
    await chain(url, 5)
    verify = ("audit", "verify", "--database-url", url, "--instance", "school-41")
    code, _ = await run(*verify, "--anchor-file", str(anchors))
    assert code == 0
    [recorded] = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert (recorded["database"], recorded["seq"]) == ("school-41", 5)

    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            third = await session.execute(text("SELECT hash FROM kernel_audit_entry WHERE seq = 3"))
            third_hash = third.scalar_one()
        await tamper(
            sessions,
            "DELETE FROM kernel_audit_entry WHERE seq > 3",
            f"UPDATE kernel_audit_head SET seq = 3, hash = '{third_hash}'",
        )
    finally:
        await engine.dispose()
    assert (await run(*verify))[0] == 0  # consistent in itself
    code, text_out = await run(*verify, "--anchor-file", str(anchors))
    assert code == 1 and "anchored entry 5 is gone" in text_out
    assert len(anchors.read_text().splitlines()) == 1  # a broken chain records no new head
