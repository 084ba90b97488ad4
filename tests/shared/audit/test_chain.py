"""The audit chain on a real database: appended in order, and any tampering found."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shared.audit.chain import Verification, append, digest, entry_of, verify
from shared.audit.tables import audit_entry, audit_head
from shared.db.engine import SessionFactory, make_engine, make_session_factory
from tests.databases import migrate_to_head
from tests.shared.audit.support import entry, tamper

KEY = b"a secret from the vault"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated county database (every tier has the same audit tables)."""
    await asyncio.to_thread(migrate_to_head, "county", database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


async def write(sessions: SessionFactory, count: int, key: bytes | None = None) -> None:
    for n in range(count):
        async with sessions() as session:
            await session.run_sync(append, entry(n), key)
            await session.commit()


async def check(
    sessions: SessionFactory, key: bytes | None = None, anchor: tuple[int, str] | None = None
) -> Verification:
    async with sessions() as session:
        return await verify(session, key, anchor=anchor, chunk=3)


async def head(sessions: SessionFactory) -> tuple[int, str]:
    async with sessions() as session:
        row = (await session.execute(select(audit_head))).one()
    return int(row.seq), str(row.hash)


async def test_an_untouched_chain_verifies(sessions: SessionFactory) -> None:
    await write(sessions, 7)
    result = await check(sessions)
    assert result.ok and result.entries == 7 and result.head_seq == 7


async def test_an_empty_chain_verifies(sessions: SessionFactory) -> None:
    assert (await check(sessions)).ok


async def test_an_edited_field_is_found_at_its_entry(sessions: SessionFactory) -> None:
    await write(sessions, 7)
    await tamper(sessions, "UPDATE kernel_audit_entry SET actor = 'someone-else' WHERE seq = 4")
    result = await check(sessions)
    assert result.broken is not None and result.broken.seq == 4
    assert "does not match its hash" in result.broken.reason


async def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(
    sessions: SessionFactory,
) -> None:
    await write(sessions, 5)
    async with sessions() as session:
        row = (await session.execute(select(audit_entry).where(audit_entry.c.seq == 2))).one()
    forged = replace(entry_of(row), outcome="refused 403")
    forged_hash = digest(row.prev_hash, 2, forged, None)
    await tamper(
        sessions,
        f"UPDATE kernel_audit_entry SET outcome = 'refused 403', hash = '{forged_hash}' "
        "WHERE seq = 2",
    )
    broken = (await check(sessions)).broken
    assert broken is not None and broken.seq == 3 and "previous entry" in broken.reason


async def test_a_deleted_entry_is_found(sessions: SessionFactory) -> None:
    await write(sessions, 7)
    await tamper(sessions, "DELETE FROM kernel_audit_entry WHERE seq = 3")
    broken = (await check(sessions)).broken
    assert broken is not None and broken.seq == 3 and "missing" in broken.reason


async def test_reordered_entries_are_found(sessions: SessionFactory) -> None:
    await write(sessions, 5)
    await tamper(
        sessions,
        "UPDATE kernel_audit_entry SET seq = 100 WHERE seq = 2",
        "UPDATE kernel_audit_entry SET seq = 2 WHERE seq = 3",
        "UPDATE kernel_audit_entry SET seq = 3 WHERE seq = 100",
    )
    broken = (await check(sessions)).broken
    assert broken is not None and broken.seq == 2


async def test_a_deleted_tail_is_found_through_the_head(sessions: SessionFactory) -> None:
    await write(sessions, 6)
    await tamper(sessions, "DELETE FROM kernel_audit_entry WHERE seq > 4")
    broken = (await check(sessions)).broken
    assert broken is not None and broken.seq == 5 and "head" in broken.reason


async def test_a_tail_cut_with_the_head_rewound_needs_an_anchor(sessions: SessionFactory) -> None:
    """The limit of an unanchored chain, and what an anchor recorded outside adds."""
    await write(sessions, 6)
    anchor = await head(sessions)
    async with sessions() as session:
        fourth = await session.execute(select(audit_entry.c.hash).where(audit_entry.c.seq == 4))
        fourth_hash = fourth.scalar_one()
    await tamper(
        sessions,
        "DELETE FROM kernel_audit_entry WHERE seq > 4",
        f"UPDATE kernel_audit_head SET seq = 4, hash = '{fourth_hash}'",
    )
    assert (await check(sessions)).ok  # consistent in itself: only an outside record shows it
    broken = (await check(sessions, anchor=anchor)).broken
    assert broken is not None and broken.seq == 5 and "anchored" in broken.reason


async def test_a_rewritten_chain_passes_without_a_key_and_fails_with_one(
    sessions: SessionFactory,
) -> None:
    """Recomputing every hash defeats plain SHA-256; under an HMAC key it cannot be done."""
    await write(sessions, 3, key=KEY)
    assert (await check(sessions, key=KEY)).ok
    broken = (await check(sessions)).broken  # the wrong key (none) is found at once
    assert broken is not None and broken.seq == 1


async def test_the_table_refuses_updates_and_deletes(sessions: SessionFactory) -> None:
    await write(sessions, 2)
    for statement in (
        "UPDATE kernel_audit_entry SET outcome = 'x' WHERE seq = 1",
        "DELETE FROM kernel_audit_entry WHERE seq = 2",
    ):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
    assert (await check(sessions)).ok


async def test_a_rolled_back_transaction_leaves_no_entry(sessions: SessionFactory) -> None:
    await write(sessions, 1)
    async with sessions() as session:
        await session.run_sync(append, entry(9), None)
        await session.rollback()
    await write(sessions, 1)
    result = await check(sessions)
    assert result.ok and result.entries == 2


async def test_concurrent_writers_never_fork_the_chain(sessions: SessionFactory) -> None:
    """Twenty transactions appending at once (a real pool on PostgreSQL) form one chain."""

    async def one(n: int) -> None:
        async with sessions() as session:
            await session.execute(select(func.count()).select_from(audit_entry))
            await asyncio.sleep(0)
            await session.run_sync(append, entry(n), None)
            await asyncio.sleep(0.01)  # hold the head a moment: others must wait
            await session.commit()

    await asyncio.gather(*(one(n) for n in range(20)))
    result = await check(sessions)
    assert result.ok and result.entries == 20


async def test_a_walk_since_the_anchor_checks_only_what_came_after(
    sessions: SessionFactory,
) -> None:
    await write(sessions, 6)
    anchor = await head(sessions)
    await write(sessions, 3)
    async with sessions() as session:
        since = await verify(session, None, anchor=anchor, since_anchor=True)
    assert since.ok and since.entries == 9

    await tamper(
        sessions,
        "UPDATE kernel_audit_entry SET outcome = 'x' WHERE seq = 2",
        "UPDATE kernel_audit_entry SET outcome = 'x' WHERE seq = 8",
    )
    full = await check(sessions)
    async with sessions() as session:
        since = await verify(session, None, anchor=anchor, since_anchor=True)
    assert full.broken is not None and full.broken.seq == 2
    assert since.broken is not None and since.broken.seq == 8  # before the anchor: trusted

    await tamper(sessions, "DELETE FROM kernel_audit_entry WHERE seq = 6")
    async with sessions() as session:
        gone = await verify(session, None, anchor=anchor, since_anchor=True)
    assert gone.broken is not None and gone.broken.seq == 6 and "gone" in gone.broken.reason


async def test_oversized_fields_are_cut_to_their_columns(sessions: SessionFactory) -> None:
    """A refused request naming a made-up unit (a path's code of any length) is still
    recorded: the entry's fields are cut to their columns, and the chain verifies."""
    probing = replace(entry(0), unit_kind="k" * 30, unit_code="9" * 50, actor="a" * 90)
    async with sessions() as session:
        await session.run_sync(append, probing, None)
        await session.commit()
    async with sessions() as session:
        row = (await session.execute(select(audit_entry))).one()
    assert (row.unit_kind, row.unit_code, row.actor) == ("k" * 10, "9" * 12, "a" * 60)
    assert (await check(sessions)).ok
