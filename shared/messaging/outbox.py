"""The transactional outbox: messages commit with the state change that causes them.

:func:`stage` inserts envelopes into ``kernel_outbox`` inside the caller's transaction; the
:class:`OutboxRelay` publishes committed rows with publisher confirms, ``mandatory`` and
persistent delivery, confirming a whole batch at once, and marks a row sent only once the
broker acknowledged it. A crash anywhere in between leaves the row unsent, so it is published
again (at least once); the receiving inbox drops the duplicate. The relay signs every body as
it publishes it (``shared.messaging.signing``), so a row waiting in the outbox does not age
towards the receivers' freshness window.

Rows committed by this process's sessions are handed to the relay by the commit itself
(:func:`wake_relay_after_commit`): the relay publishes them without reading them back and marks
them sent by message id. Reading the outbox (due rows, oldest first) is the fallback, on its
poll interval and after a failure: rows of another process, rows refused or left unconfirmed,
rows of a crashed process.

Bundles (decision 0021): rows published together that share a routing key (one target unit,
one message type) go out as one AMQP message, a JSON array of their envelopes signed once, up
to :data:`MAX_BUNDLE` of them. An officer's bulk decision, a set-based run's notices and the
like then cost the broker, the signatures and both ends' AMQP handling once, not once per
student. The consumer applies a bundle's envelopes like that many messages (each through the
inbox under its own id); order is kept per routing key, which is what a queue saw before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import DeliveryError, PublishError
from sqlalchemy import bindparam, delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from shared.db.engine import SessionFactory, statement_sessions
from shared.messaging.connection import BrokerConnection
from shared.messaging.envelope import Envelope, current_routing_key
from shared.messaging.signing import SIGNATURE_HEADER, Signer
from shared.messaging.tables import outbox
from shared.messaging.topology import EVENTS_EXCHANGE, declare_exchanges
from shared.telemetry.amqp import producer_span

log = logging.getLogger(__name__)

MAX_BUNDLE = 50  # envelopes in one AMQP message
MAX_BUNDLE_BYTES = 1 << 20  # and at most this many body bytes (a bundle of one may exceed it)
BUNDLE_HEADER = "xueji-bundle"  # how many envelopes a bundle carries (the consumer's batch sizing)
BUNDLE_TRACE_HEADER = "xueji-bundle-trace"  # with tracing on: each envelope's PRODUCER span

Clock = Callable[[], datetime]
_STAGED_ROWS = "xueji.outbox.staged_rows"  # session.info: the rows this transaction staged
_PENDING_ROWS = "xueji.outbox.pending_rows"  # and those it inserts when it commits
_INSERTED_IDS = "xueji.outbox.inserted_ids"  # the ids of those it inserted early, a chunk each
_READ_BACK = "xueji.outbox.read_back"  # committed rows the relay reads from the outbox

# A transaction holds at most this many staged rows, or bodies of this many bytes: past either
# they are inserted at once (a day's figures to every county of the country, a large batch's
# notices), so its memory stays bounded whatever it sends.
STAGE_CHUNK = 500
STAGE_CHUNK_BYTES = 4 << 20
_PENDING_BYTES = "xueji.outbox.pending_bytes"


def utcnow() -> datetime:
    return datetime.now(UTC)


def amqp_headers(envelope: Envelope) -> dict[str, Any]:
    """AMQP headers of a message: only its W3C trace context.

    Everything else (source, target, schema version, causation) is in the envelope; the AMQP
    properties carry message id and type for tools. Headers are encoded in pure Python on both
    ends, and every extra one costs throughput on every hop.
    """
    return dict(envelope.trace_context)


# Built once (decision 0019): every message staged, and every batch the relay publishes, runs
# these.
_STAGE = insert(outbox)
_MARK_SENT = (
    update(outbox)
    .where(outbox.c.message_id.in_(bindparam("sent_ids", expanding=True)))
    .values(sent_at=bindparam("sent_now"))
)


async def stage(
    session: AsyncSession, envelopes: Iterable[Envelope], now: datetime | None = None
) -> None:
    """Add ``envelopes`` to the outbox in ``session``'s transaction (published after commit).

    Outside a savepoint the rows are kept in the session and inserted when it commits, all the
    transaction staged in one statement (a consumer's batch of messages, a request that causes
    several); they commit or roll back with it all the same. A transaction that stages
    :data:`STAGE_CHUNK` rows or :data:`STAGE_CHUNK_BYTES` of bodies inserts them a chunk at a
    time as they come, and the relay reads them back from the outbox after the commit, in the
    order staged. Inside a savepoint
    they are inserted at once, so that rolling the savepoint back removes them.
    """
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    size = 0
    for e in envelopes:
        body = e.to_json()
        size += len(body)
        rows.append(
            {
                "message_id": str(e.message_id),
                "message_type": e.type,
                "routing_key": e.routing_key,
                "body": body,
                "headers": amqp_headers(e),
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            }
        )
    if not rows:
        return
    if session.in_nested_transaction():  # a savepoint may yet roll them back: insert them now
        await session.execute(_STAGE, rows)
        return
    pending = session.info.setdefault(_PENDING_ROWS, [])
    pending.extend(rows)
    size += session.info.get(_PENDING_BYTES, 0)
    session.info[_PENDING_BYTES] = size
    if len(pending) >= STAGE_CHUNK or size >= STAGE_CHUNK_BYTES:  # a large transaction: insert
        session.info[_PENDING_ROWS], session.info[_PENDING_BYTES] = [], 0  # this chunk now
        await session.execute(_STAGE, pending)
        session.info.setdefault(_INSERTED_IDS, []).extend(row["message_id"] for row in pending)


@event.listens_for(Session, "before_commit")
def _insert_pending(session: Session) -> None:
    """Insert the rows the transaction staged outside savepoints: one statement at its commit
    (an ``executemany``, one round trip), not one per :func:`stage` call."""
    if session.in_nested_transaction():  # a savepoint's release: the outer commit inserts them
        return
    rows = session.info.pop(_PENDING_ROWS, None)
    session.info.pop(_PENDING_BYTES, None)
    if rows:
        session.execute(_STAGE, rows)
    if session.info.pop(_INSERTED_IDS, None):  # chunks went first: all are read back, in order
        session.info[_READ_BACK] = True
    elif rows:
        session.info.setdefault(_STAGED_ROWS, []).extend(rows)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction's end (its commit took them already)
        for key in (_PENDING_ROWS, _PENDING_BYTES, _INSERTED_IDS, _READ_BACK):
            session.info.pop(key, None)


async def staged_in(session: AsyncSession) -> list[Envelope]:
    """The envelopes ``session``'s transaction has staged so far (outside savepoints), in the
    order staged: for tests and tools (the chunks already inserted are read back)."""
    early: list[Any] = []
    inserted = session.info.get(_INSERTED_IDS, [])
    for start in range(0, len(inserted), STAGE_CHUNK):
        chunk = inserted[start : start + STAGE_CHUNK]
        found = await session.execute(
            select(outbox.c.body).where(outbox.c.message_id.in_(chunk)).order_by(outbox.c.id)
        )
        early += [{"body": body} for (body,) in found]
    rows = [*early, *session.info.get(_STAGED_ROWS, ()), *session.info.get(_PENDING_ROWS, ())]
    return [Envelope.model_validate_json(row["body"]) for row in rows]


def wake_relay_after_commit(session_factory: SessionFactory, relay: OutboxRelay) -> None:
    """Hand ``relay`` the rows each session of ``session_factory`` staged, when it commits
    (rows staged inside a savepoint are left to the relay's outbox read)."""

    session_class = session_factory.kw["sync_session_class"]

    @event.listens_for(session_class, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop(_READ_BACK, False):  # inserted in chunks: read from the outbox now
            relay.wake()
        relay.hand_over(session.info.pop(_STAGED_ROWS, ()))

    @event.listens_for(session_class, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(_STAGED_ROWS, None)


def bundles(rows: Sequence[Any]) -> list[list[Any]]:
    """``rows`` grouped by routing key into bundles of at most :data:`MAX_BUNDLE` rows and
    :data:`MAX_BUNDLE_BYTES`, in the order of their first rows (order kept per key)."""
    open_bundle: dict[str, tuple[list[Any], int]] = {}
    groups: list[list[Any]] = []
    for row in rows:
        key, size = current_routing_key(row.routing_key), len(row.body) + 1
        current = open_bundle.get(key)
        if current is None or len(current[0]) >= MAX_BUNDLE or current[1] + size > MAX_BUNDLE_BYTES:
            group: list[Any] = [row]
            groups.append(group)
            open_bundle[key] = (group, size)
        else:
            current[0].append(row)
            open_bundle[key] = (current[0], current[1] + size)
    return groups


def _message(row: Any, body: bytes, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=row.message_id,
        type=row.message_type,
        headers=headers,
    )


class OutboxRelay:
    """Publishes committed outbox rows in confirmed batches; prunes old sent rows."""

    def __init__(
        self,
        session_factory: SessionFactory,
        broker: BrokerConnection,
        *,
        signer: Signer,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(minutes=10),
        publish_timeout: float = 10.0,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = session_factory
        # the relay's reads, its marks and its pruning are one statement each (decision 0056)
        self._statements = statement_sessions(session_factory)
        self._broker = broker
        self._due = (  # the fallback read, every poll interval: built once
            select(outbox)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= bindparam("due_now"))
            .order_by(outbox.c.id)
            .limit(batch_size)
        )
        self._signer = signer
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention = retention
        self._publish_timeout = publish_timeout
        self._clock = clock
        self._wake = asyncio.Event()
        self._exchange: AbstractExchange | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        self._last_read = 0.0  # loop time the outbox was last read for due rows
        # committed rows handed over by their transaction, by message id, in commit order
        self._handed: dict[str, SimpleNamespace] = {}
        self._in_flight: set[str] = set()  # handed over and being published right now
        self.published = 0
        self.published_by_type: Counter[str] = Counter()  # for /metrics
        broker.on_connected(self._open_channel)

    async def _open_channel(self, connection: AbstractConnection) -> None:
        channel: AbstractChannel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._broker.watch_channel(channel)
        self._exchange, _ = await declare_exchanges(channel, connection)
        self.wake()

    def wake(self) -> None:
        """Publish what is due now: handed-over rows and anything the outbox holds."""
        self._last_read = 0.0
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            self._wake.clear()
            try:
                await self._broker.wait_ready()
                if not await self._relay_handed():
                    self._last_read = 0.0  # something went wrong: read the outbox now
                if self._reading_due():
                    while await self.relay_once() == self._batch_size:
                        pass
                await self._maybe_prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database hiccup: rows stay unsent, try again
                self._last_read = 0.0
                log.warning("outbox relay cycle failed, will retry: %r", exc)
                await asyncio.sleep(self._poll_interval)

    def hand_over(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows of a transaction that just committed, to publish without reading them back."""
        for row in rows:
            self._handed[row["message_id"]] = SimpleNamespace(id=None, **row)
        if self._handed:
            self._wake.set()

    def _reading_due(self) -> bool:
        """Whether to read the outbox for due rows this cycle: once per poll interval (rows
        nobody handed over), and at once after a failure or a reconnection."""
        now = asyncio.get_running_loop().time()
        if now - self._last_read < self._poll_interval:
            return False
        self._last_read = now
        return True

    async def _relay_handed(self) -> bool:
        """Publish the rows handed over so far and mark the confirmed ones sent; False if some
        were not confirmed (the outbox read then picks them up, with their back-off)."""
        all_confirmed = True
        while self._handed:
            rows = [self._handed.pop(key) for key in list(self._handed)[: self._batch_size]]
            self._in_flight.update(row.message_id for row in rows)
            try:
                results = await self._publish(rows)
                sent = [r.message_id for r, e in zip(rows, results, strict=True) if e is None]
                if sent:
                    async with self._statements() as session, session.begin():
                        await session.execute(
                            _MARK_SENT, {"sent_ids": sent, "sent_now": self._clock()}
                        )
            finally:
                self._in_flight.difference_update(row.message_id for row in rows)
            self._count_published(rows, results)
            all_confirmed = all_confirmed and len(sent) == len(rows)
        return all_confirmed

    async def relay_once(self) -> int:
        """Publish one batch of due rows; return how many rows were due."""
        now = self._clock()
        async with self._statements() as session:
            rows = (await session.execute(self._due, {"due_now": now})).all()
        rows = [row for row in rows if row.message_id not in self._in_flight]
        for row in rows:  # read here: no longer to be published as handed over
            self._handed.pop(row.message_id, None)
        if not rows:
            return 0
        results = await self._publish(rows)
        await self._record(rows, results)
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Publish ``rows`` in bundles; each row's outcome is its bundle's (None: confirmed)."""
        exchange = self._exchange
        if exchange is None or not self._broker.is_ready:
            raise ConnectionError("broker not ready")
        groups = bundles(rows)
        outcomes = await asyncio.gather(
            *(self._publish_one(exchange, group) for group in groups), return_exceptions=True
        )
        by_row = {
            id(row): outcome if isinstance(outcome, BaseException) else None
            for group, outcome in zip(groups, outcomes, strict=True)
            for row in group
        }
        return [by_row[id(row)] for row in rows]

    async def _publish_one(self, exchange: AbstractExchange, group: Sequence[Any]) -> None:
        """Publish a bundle (or one row), each row under a PRODUCER span continuing the trace
        stored with it; a bundle's headers carry its first row's span, and every row's in
        :data:`BUNDLE_TRACE_HEADER`."""
        first = group[0]
        body = first.body if len(group) == 1 else b"[" + b",".join(r.body for r in group) + b"]"
        with contextlib.ExitStack() as spans:
            carried = [
                spans.enter_context(
                    producer_span(
                        message_id=row.message_id,
                        message_type=row.message_type,
                        routing_key=current_routing_key(row.routing_key),
                        exchange=EVENTS_EXCHANGE,
                        headers=row.headers,
                    )
                )
                for row in group
            ]
            headers = carried[0]
            headers[SIGNATURE_HEADER] = self._signer.sign(body)
            if len(group) > 1:
                headers[BUNDLE_HEADER] = len(group)
                parents = [str(c.get("traceparent", "")) for c in carried]
                if any(parents):
                    headers[BUNDLE_TRACE_HEADER] = parents
            # a row an older release wrote keeps its old school key: published under today's
            await exchange.publish(
                _message(first, body, headers),
                current_routing_key(first.routing_key),
                mandatory=True,
                timeout=self._publish_timeout,
            )

    async def _record(self, rows: Sequence[Any], results: list[BaseException | None]) -> None:
        now = self._clock()
        sent = [row.id for row, error in zip(rows, results, strict=True) if error is None]
        refused = [
            (row, error)
            for row, error in zip(rows, results, strict=True)
            if isinstance(error, PublishError | DeliveryError)
        ]
        async with self._sessions() as session, session.begin():
            if sent:
                await session.execute(
                    update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=now)
                )
            for row, error in refused:
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        attempts=row.attempts + 1,
                        last_error=_refusal(current_routing_key(row.routing_key), error),
                        next_attempt_at=now + _backoff(row.attempts + 1),
                    )
                )
        self._count_published(rows, results)
        lost = len(rows) - len(sent) - len(refused)
        if refused:
            log.error("broker refused %d outbox messages, e.g. %s", len(refused), refused[0][1])
        if lost:
            # Connection-level failure: unconfirmed rows stay due and go out again.
            raise ConnectionError(f"{lost} publications unconfirmed")

    def _count_published(self, rows: Sequence[Any], results: list[BaseException | None]) -> None:
        confirmed = [row for row, error in zip(rows, results, strict=True) if error is None]
        self.published += len(confirmed)
        self.published_by_type.update(row.message_type for row in confirmed)

    async def _maybe_prune(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_prune < 30:
            return
        self._last_prune = loop_time
        await self.prune()

    async def prune(self) -> int:
        """Delete rows sent longer ago than the retention period."""
        cutoff = self._clock() - self._retention
        async with self._statements() as session, session.begin():
            result = await session.execute(delete(outbox).where(outbox.c.sent_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """Unsent rows and the creation time of the oldest one (for metrics and readiness)."""
    row = (
        await session.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
        )
    ).one()
    return int(row[0]), row[1]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


def _refusal(routing_key: str, error: BaseException) -> str:
    if isinstance(error, PublishError):
        return f"unroutable: no queue is bound for routing key {routing_key!r}"
    return f"refused by the broker: {error!r}"
