"""Deferred chaining (decision 0048): entries written unchained, linked by the chainer after.

On a real database (SQLite and PostgreSQL, a real connection pool on the latter): concurrent
writers never wait for the head and still end in one chain that verifies; two chainers at
once chain each entry once; a chainer that dies mid-round loses nothing; what is tampered with
after chaining is found as in an inline chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shared.audit.chain import chain_pending, stage_many, verify
from shared.audit.chaining import AuditChainer
from shared.audit.recording import AuditTrail
from shared.audit.tables import audit_entry, audit_pending
from shared.db.engine import SessionFactory, make_engine, make_session_factory
from tests.databases import migrate_to_head
from tests.shared.audit.support import T0, entry, tamper

KEY = b"a secret from the vault"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated school database (every tier has the same audit tables)."""
    await asyncio.to_thread(migrate_to_head, "school", database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


def trail(sessions: SessionFactory) -> AuditTrail:
    return AuditTrail(sessions, KEY, lambda: T0, deferred=True)


async def counts(sessions: SessionFactory) -> tuple[int, int]:
    """(entries chained, entries pending)."""
    async with sessions() as session:
        chained = await session.scalar(select(func.count()).select_from(audit_entry))
        pending = await session.scalar(select(func.count()).select_from(audit_pending))
    return int(chained or 0), int(pending or 0)


async def object_ids(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(audit_entry.c.object_id).order_by(audit_entry.c.seq))
    return [str(value) for value in rows.scalars()]


async def test_writers_stage_and_the_chainer_links_them_into_a_verified_chain(
    sessions: SessionFactory,
) -> None:
    audit = trail(sessions)
    for n in range(5):
        await audit.write(entry(n))
    assert await counts(sessions) == (0, 5)  # written, not chained: no head was touched
    async with sessions() as session:
        before = await verify(session, KEY)
    assert before.ok and before.entries == 0  # the walk covers the chain, and says what waits
    assert (before.pending, before.oldest_pending) == (5, entry(0).at)

    chainer = AuditChainer(sessions, KEY, now=lambda: entry(0).at + timedelta(seconds=60))
    await chainer.measure()
    assert chainer.pending == 5 and chainer.oldest_age() == 60

    assert await chainer.run() == 5
    assert await counts(sessions) == (5, 0)
    assert chainer.pending == 0 and chainer.oldest_age() == 0
    assert await object_ids(sessions) == [entry(n).object_id for n in range(5)]
    async with sessions() as session:
        result = await verify(session, KEY)
    assert result.ok and result.entries == 5 and result.head_seq == 5 and result.pending == 0


async def test_concurrent_writers_and_a_running_chainer_end_in_one_chain(
    sessions: SessionFactory,
) -> None:
    """Forty transactions of one unit writing at once (each holding its transaction open a
    moment, as a request does until its commit) while the chainer runs round after round: no
    writer waits for another, every entry is chained once, and the chain verifies."""
    audit = trail(sessions)
    chainer = AuditChainer(sessions, KEY)

    async def one(n: int) -> None:
        async with sessions() as session:
            await session.run_sync(audit.record, [entry(n)])
            await asyncio.sleep(0.01)
            await session.commit()

    async def chain_meanwhile(writers: asyncio.Future[object]) -> None:
        while not writers.done():
            await chainer.run(measure=False)
            await asyncio.sleep(0)

    writers = asyncio.gather(*(one(n) for n in range(40)))
    await asyncio.gather(writers, chain_meanwhile(writers))
    await chainer.run()

    assert await counts(sessions) == (40, 0)
    assert sorted(await object_ids(sessions)) == sorted(entry(n).object_id for n in range(40))
    async with sessions() as session:
        result = await verify(session, KEY, chunk=7)
    assert result.ok and result.entries == 40


async def test_two_chainers_at_once_chain_each_entry_once(sessions: SessionFactory) -> None:
    """Two replicas' chainers in the same moment, without the lease (as if it had lapsed):
    the second waits on the head, then finds nothing left, or only what came after."""
    audit = trail(sessions)
    for n in range(30):
        await audit.write(entry(n))

    async def round_() -> int:
        async with sessions() as session:
            count = await session.run_sync(chain_pending, KEY, 1000)
            await asyncio.sleep(0.02)  # hold the head while the other round starts
            await session.commit()
        return count

    done = await asyncio.gather(round_(), round_())
    assert sorted(done) == [0, 30]
    assert await counts(sessions) == (30, 0)
    async with sessions() as session:
        assert (await verify(session, KEY)).ok


async def test_a_chainer_dying_mid_round_loses_nothing(
    sessions: SessionFactory, database_url: str
) -> None:
    """Entries are committed pending; a round that chained them but never committed (the
    process killed, its connection gone) leaves them pending, and a new process chains them."""
    audit = trail(sessions)
    for n in range(4):
        await audit.write(entry(n))

    dying = make_engine(database_url)
    connection = await dying.connect()
    transaction = await connection.begin()
    session = make_session_factory(dying)(bind=connection)
    assert await session.run_sync(chain_pending, KEY, 1000) == 4
    await connection.invalidate()  # the connection dies with the process: no commit
    await dying.dispose()
    del transaction

    assert await counts(sessions) == (0, 4)
    restarted = AuditChainer(sessions, KEY)
    assert await restarted.run() == 4
    assert await counts(sessions) == (4, 0)
    async with sessions() as session:
        assert (await verify(session, KEY)).ok


async def test_a_rolled_back_change_leaves_no_pending_entry(sessions: SessionFactory) -> None:
    audit = trail(sessions)
    async with sessions() as session:
        await session.run_sync(audit.record, [entry(1)])
        await session.rollback()
    await audit.write(entry(2))
    assert await counts(sessions) == (0, 1)


async def test_tampering_after_chaining_is_found(sessions: SessionFactory) -> None:
    audit = trail(sessions)
    chainer = AuditChainer(sessions, KEY)
    for n in range(6):
        await audit.write(entry(n))
    await chainer.run()

    await tamper(sessions, "UPDATE kernel_audit_entry SET purpose = '篡改' WHERE seq = 2")
    async with sessions() as session:
        edited = await verify(session, KEY)
    assert edited.broken is not None and edited.broken.seq == 2

    await tamper(
        sessions,
        "UPDATE kernel_audit_entry SET purpose = '核对学籍' WHERE seq = 2",
        "DELETE FROM kernel_audit_entry WHERE seq = 4",
    )
    async with sessions() as session:
        deleted = await verify(session, KEY)
    assert deleted.broken is not None and deleted.broken.seq == 4
    assert "missing" in deleted.broken.reason


async def test_pending_entries_are_never_updated(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await session.run_sync(stage_many, [entry(1)])
        await session.commit()
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="never updated"):
            await session.execute(text("UPDATE kernel_audit_pending SET outcome = 'x'"))
    assert await counts(sessions) == (0, 1)
