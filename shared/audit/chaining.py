"""The chainer: links the entries written unchained into the audit chain, moments after.

With ``XUEJI_AUDIT_CHAINING=deferred`` (decision 0048) an audited request inserts its entry
into ``kernel_audit_pending`` in its own transaction and never waits for the chain's head.
Each instance runs one :class:`AuditChainer`; with replicas on one database, the one holding
the lease (``shared/db/lease.py``) chains a round and the others skip it. A round takes the
head's lock, reads up to ``BATCH`` pending entries in ``id`` order, appends them (one
multi-row INSERT, one move of the head), deletes them from the pending table, and commits:
one durable commit for the batch instead of one per request under the head's lock.

A round starts ``GATHER`` seconds after a transaction that staged entries commits (so the chain
is moments behind, and the commits of that moment are chained in one round) and at least every
``interval`` seconds (what a crashed replica left behind).
A crash or a failed round loses nothing: its transaction rolls back and the rows stay pending.

What a round sees of the tail is kept for ``/metrics`` (``xueji_audit_pending_entries``,
``xueji_audit_pending_oldest_seconds``): entries wait here unchained, so the chain's tamper
evidence covers them only once chained; the XuejiAuditChainingStalled alert fires when the
oldest has waited too long (the chainer is not running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.audit.chain import PENDING_TAIL, chain_pending
from shared.db.engine import SessionFactory
from shared.db.lease import try_lease

log = logging.getLogger(__name__)

LEASE = "audit-chainer"
BATCH = 1000
GATHER = 0.25  # after a wake-up, wait this long for more commits: one round chains them all
STAGED = "xueji_audit_staged"  # session.info: this transaction wrote pending entries


class AuditChainer:
    """One database's chainer (deferred chaining only; inline chaining needs none)."""

    def __init__(
        self,
        sessions: SessionFactory,
        key: bytes | None,
        *,
        interval: float = 5.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._key = key
        self.interval = interval
        self._now = now
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.chained = 0  # entries this process chained, for /metrics
        self.pending = 0  # entries left pending after the last round
        self.oldest: datetime | None = None  # the oldest of them
        self._measured = 0.0  # the loop's time of the last measure

    def wake(self) -> None:
        self._wake.set()

    def wake_after_commit(self) -> None:
        """Start a round whenever a session of this database commits staged entries."""
        session_class = self._sessions.kw["sync_session_class"]
        loop = asyncio.get_running_loop()

        @event.listens_for(session_class, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop(STAGED, False):
                loop.call_soon_threadsafe(self._wake.set)

        @event.listens_for(session_class, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop(STAGED, None)

    def start(self) -> None:
        if self._task is None:
            self.wake_after_commit()
            self._task = asyncio.create_task(self._loop(), name="audit-chainer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
                await asyncio.sleep(GATHER)
            self._wake.clear()
            try:
                due = asyncio.get_running_loop().time() - self._measured >= self.interval
                await self.run(measure=due)
            except Exception:  # the database away: the rows stay pending, the next round goes on
                log.warning("chaining the audit entries failed; retrying", exc_info=True)
                await asyncio.sleep(min(self.interval, 1.0))

    async def run(self, *, measure: bool = True) -> int:
        """Chain everything pending now (in rounds of ``BATCH``); returns how many entries.
        Nothing when another replica holds the lease. ``measure``: read the tail left behind
        for /metrics (the loop does it once per ``interval``)."""
        total = 0
        while True:
            async with self._sessions() as session:
                if not await try_lease(session, LEASE):
                    return total
                count = await session.run_sync(chain_pending, self._key, BATCH)
                await session.commit()
            total += count
            self.chained += count
            if count < BATCH:
                break
        if measure:
            await self.measure()
        return total

    async def measure(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._measured = asyncio.get_running_loop().time()
        async with self._sessions() as session:
            count, oldest = (await session.execute(PENDING_TAIL)).one()
        self.pending = int(count)
        self.oldest = None if oldest is None else _aware(oldest)

    def oldest_age(self) -> float:
        """Seconds the oldest pending entry has waited (0 with none pending)."""
        if self.oldest is None:
            return 0.0
        return max(0.0, (self._now() - self.oldest).total_seconds())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
