"""The consumer: validate, apply through the idempotent inbox, acknowledge after commit.

Deliveries are taken in batches (whatever the prefetch window holds, up to ``batch_size``) and
applied in one transaction; if anything in the batch fails, the batch is rolled back and each
message is applied on its own, so one bad message never holds back or corrupts the others.

- A message that can never apply (bad JSON, bad envelope, unknown type, unsupported version,
  a payload that breaks its contract, or a handler raising :class:`PermanentMessageError`) is
  dead-lettered at once with ``x-failure-reason``.
- Before anything else a delivery's signature is verified (``shared.messaging.signing``):
  forged, tampered, stale, or wrongly addressed messages (a source unit its signer does not
  host, a target unit this instance does not host) are dead-lettered with the reason and
  raise a security alert; they never reach the inbox or a handler.
- Then each envelope's sender and target tiers are checked against what its contract allows
  (``shared.messaging.authorization``, decision 0025): a school's genuine key cannot send what
  national alone decides. A refusal is a security refusal like the signature's. A handler
  that finds the sender is no party to the object (``not_a_party``) raises one too: the
  transaction rolls back, the message is dead-lettered and the alert raised the same way.
  Dead letters of security refusals carry ``x-security-refusal: <reason>``; the replay tool
  keeps them unless forced with a reason (``xueji-ops dead-letters replay``).
- Any other failure is retried through the delay queues (``xueji.retry``) with growing
  back-off; after
  ``max_attempts`` deliveries it is dead-lettered with the last error as its reason.
- Inbox: ``(consumer, message_id)`` is inserted in the same transaction as the handler's
  effect (one statement per batch, which also says which messages are new); a message
  already recorded is acknowledged and skipped.
- Acknowledgement: a batch applied in one transaction is acknowledged with one ``basic.ack``
  (``multiple``: its highest delivery tag; on a quorum queue every ack frame is a log entry).
  That is safe because the worker takes deliveries in order and settles every batch before the
  next, so no lower tag is still pending — unless a batch failed outright and was left for
  redelivery: on that channel, acks stay one per message until it is replaced.
- Bundles (``shared.messaging.outbox``, decision 0021): a delivery whose body is a JSON array
  carries several envelopes of one target and type under one signature. Each envelope
  is checked and applied like a message of its own (the inbox keeps each id); the delivery is
  settled as a whole: acknowledged once every envelope applied, else retried or dead-lettered
  whole, the reason naming the envelope that failed. Redelivered, the envelopes that did apply
  are duplicates to the inbox, so a retry or an operator's replay applies only the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.db.engine import AsyncSession, SessionFactory
from shared.messaging.authorization import authorize
from shared.messaging.connection import BrokerConnection
from shared.messaging.envelope import Contract, Envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import Handler, HandlerContext, HandlerRegistry, ManyHandler
from shared.messaging.outbox import BUNDLE_HEADER, BUNDLE_TRACE_HEADER
from shared.messaging.signing import ALERT_REASONS, SecurityRefusal, Verifier, security_alert
from shared.messaging.tables import inbox
from shared.messaging.topology import (
    DEAD_EXCHANGE,
    RETRY_EXCHANGE,
    ServiceTopology,
    declare_service_topology,
)
from shared.telemetry.amqp import consumer_span, consumer_spans, record_dead_letter

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-attempt"
REASON_HEADER = "x-failure-reason"
# On the dead letter of a security refusal: its reason (e.g. expired, sender_not_allowed).
SECURITY_HEADER = "x-security-refusal"
# How long the inbox remembers a message it applied. It must outlast every way the message can
# come again: redelivery and retries (minutes), the freshness window (72 h; older is refused
# anyway), and an operator's replay of a dead letter, which the replay tool refuses past this
# (xueji-ops dead-letters replay; decision 0021).
DEFAULT_INBOX_RETENTION = timedelta(days=30)


_ENVELOPES = TypeAdapter(list[Envelope])
# The most envelopes a received bundle may carry (relays send at most MAX_BUNDLE, 50): a bigger
# one, even signed by a trusted peer, would make one transaction of unbounded size.
MAX_BUNDLE_RECEIVED = 1000


@dataclass(frozen=True)
class Decoded:
    message: AbstractIncomingMessage
    envelope: Envelope
    payload: Contract
    handler: Handler
    many: ManyHandler | None = None
    position: int | None = None  # in a bundle, the envelope's place in it

    @property
    def bundled(self) -> bool:
        return self.position is not None

    @property
    def message_id(self) -> str:
        return str(self.envelope.message_id)

    @property
    def trace_headers(self) -> Any:
        """Where this envelope's trace continues: its PRODUCER span, from the delivery's
        headers (in a bundle, its entry of the bundle's list); else its envelope's context."""
        headers = self.message.headers or {}
        if self.position is None:
            return headers
        parents = headers.get(BUNDLE_TRACE_HEADER)
        if isinstance(parents, list) and self.position < len(parents) and parents[self.position]:
            parent = parents[self.position]
            return {"traceparent": parent.decode() if isinstance(parent, bytes) else str(parent)}
        return self.envelope.trace_context


def _errors(exc: ValidationError) -> str:
    """Pydantic errors without the offending input (it may be personal data)."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(parts[:5])


class MessageConsumer:
    """Consumes one service instance's queue and applies messages through its handlers."""

    def __init__(
        self,
        *,
        topology: ServiceTopology,
        handlers: HandlerRegistry,
        session_factory: SessionFactory,
        broker: BrokerConnection,
        verifier: Verifier,
        batch_size: int = 100,
        prefetch: int = 200,
        inbox_retention: timedelta = DEFAULT_INBOX_RETENTION,
        prune_interval: float = 3600.0,
    ) -> None:
        self.topology = topology
        self.consumer_name = topology.instance
        self._handlers = handlers
        self._sessions = session_factory
        if verifier.hosted != frozenset(topology.units):
            raise ValueError("the verifier must check the units this consumer's queue receives")
        self._verifier = verifier
        if inbox_retention <= verifier.max_age + verifier.max_skew:
            raise ValueError(
                f"the inbox must remember messages longer than they stay fresh"
                f" ({verifier.max_age + verifier.max_skew}), not {inbox_retention}"
            )
        self.inbox_retention = inbox_retention
        self._prune_interval = prune_interval
        self._pruner: asyncio.Task[None] | None = None
        self.pruned = 0
        self._batch_size = batch_size
        self._prefetch = prefetch
        self._pending: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._channel: AbstractChannel | None = None
        # Channels (by id) on which a failed batch left deliveries unsettled, for redelivery
        # when the channel goes: a multiple ack there would settle them too.
        self._unsettled: set[int | None] = set()
        self._worker: asyncio.Task[None] | None = None
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.batches = 0
        self.deliveries = 0  # AMQP messages taken (a bundle is one, whatever it carries)
        # (message type, applied | duplicate | retried | dead_lettered) -> count, for /metrics
        self.outcomes: Counter[tuple[str, str]] = Counter()
        # security alert reason -> count, for /metrics (xueji_security_alerts_total)
        self.security_alerts: Counter[str] = Counter(dict.fromkeys(ALERT_REASONS, 0))
        broker.on_connected(self._attach)
        self._broker = broker

    async def _attach(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=False)
        self._broker.watch_channel(channel)
        self._unsettled.clear()  # the old channels are gone, and their deliveries with them
        await channel.set_qos(prefetch_count=self._prefetch)
        declared = await declare_service_topology(channel, self.topology, connection)
        self._channel = channel
        await declared.queue.consume(self._pending.put)

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"{self.consumer_name}-consumer")
        if self._pruner is None:
            self._pruner = asyncio.create_task(
                self._prune_periodically(), name=f"{self.consumer_name}-inbox-pruner"
            )

    async def stop(self) -> None:
        for task in (self._worker, self._pruner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._pruner = None

    async def prune(self, now: datetime | None = None) -> int:
        """Forget inbox rows older than the retention; returns how many."""
        cutoff = (now or datetime.now(UTC)) - self.inbox_retention
        pruned = await prune_inbox(self._sessions, self.consumer_name, cutoff)
        self.pruned += pruned
        if pruned:
            log.info("inbox: %d messages older than %s forgotten", pruned, cutoff.isoformat())
        return pruned

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._prune_interval)
            try:
                await self.prune()
            except Exception as exc:  # a database hiccup: the next round tries again
                log.warning("inbox pruning failed, will retry: %r", exc)

    async def _work(self) -> None:
        while True:
            batch = [await self._pending.get()]
            envelopes = _envelope_count(batch[0])
            while envelopes < self._batch_size and not self._pending.empty():
                batch.append(self._pending.get_nowait())
                envelopes += _envelope_count(batch[-1])
            try:
                await self.process(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the worker die; unacked messages come back
                log.exception("batch of %d left unacknowledged", len(batch))
                self._unsettled.update(_channel_of(message) for message in batch)

    async def process(self, batch: Sequence[AbstractIncomingMessage]) -> None:
        """Apply a batch: dead-letter the undecodable, apply the rest, ack after commit."""
        self.deliveries += len(batch)
        decoded: list[Decoded] = []
        for message in batch:
            try:
                decoded.extend(self.decode(message))
            except PermanentMessageError as exc:
                security = None
                if isinstance(exc, SecurityRefusal):
                    self._alert(message, exc)
                    security = exc.code
                await self._dead_letter(message, exc.reason, security=security)
        if not decoded:
            return
        try:
            await self._apply(decoded)
        except Exception as exc:
            if len(decoded) == 1:
                await self._failed(decoded[0], exc)
                return
            log.info("batch of %d failed (%r); applying one by one", len(decoded), exc)
            for items in _by_delivery(decoded):
                await self._apply_alone(items)
            return
        await self._ack_applied([items[0].message for items in _by_delivery(decoded)])

    async def _ack_applied(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Acknowledge a batch's applied deliveries: one multiple ack per channel, of the
        highest tag (the batch's dead-lettered ones, lower, were acked already)."""
        highest: dict[int, AbstractIncomingMessage] = {}
        for message in messages:
            channel = _channel_of(message)
            if channel is None or channel in self._unsettled or message.delivery_tag is None:
                await _ack(message)  # a closed channel's: fails, logged, redelivered anyway
                continue
            top = highest.get(channel)
            if top is None or (top.delivery_tag or 0) < message.delivery_tag:
                highest[channel] = message
        for message in highest.values():
            await _ack(message, multiple=True)

    async def _apply_alone(self, items: Sequence[Decoded]) -> None:
        """Apply one delivery's envelopes each in its own transaction, then settle it: acked if
        all applied, else retried or dead-lettered for the first that failed (a transient
        failure first: the retry may yet apply it)."""
        failure: tuple[Decoded, Exception] | None = None
        for item in items:
            try:
                await self._apply([item])
            except Exception as exc:
                if failure is None or (
                    isinstance(failure[1], PermanentMessageError)
                    and not isinstance(exc, PermanentMessageError)
                ):
                    failure = (item, exc)
        if failure is None:
            await _ack(items[0].message)
        else:
            await self._failed(*failure)

    def decode(self, message: AbstractIncomingMessage) -> list[Decoded]:
        """Check a delivery's signature, then its envelopes (one, or a bundle's), their
        contracts and units; any refusal refuses the whole delivery."""
        signer = self._verifier.verify(message.body, message.headers)
        bundled = message.body[:1] == b"["
        try:
            if bundled:
                envelopes = _ENVELOPES.validate_json(message.body)
            else:
                envelopes = [Envelope.model_validate_json(message.body)]
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise PermanentMessageError(f"malformed JSON: {_errors(exc)}") from exc
            raise PermanentMessageError(f"invalid envelope: {_errors(exc)}") from exc
        if not envelopes:
            raise PermanentMessageError("empty bundle")
        if len(envelopes) > MAX_BUNDLE_RECEIVED:
            raise PermanentMessageError(
                f"bundle of {len(envelopes)} envelopes, more than {MAX_BUNDLE_RECEIVED}"
            )
        return [
            self._decode_one(message, signer, e, n if bundled else None)
            for n, e in enumerate(envelopes)
        ]

    def _decode_one(
        self,
        message: AbstractIncomingMessage,
        signer: Any,
        envelope: Envelope,
        position: int | None,
    ) -> Decoded:
        self._verifier.check_units(signer, envelope)
        payload, handler, many = resolve(self._handlers, envelope)
        return Decoded(message, envelope, payload, handler, many, position)

    async def _apply(self, items: Sequence[Decoded]) -> None:
        """One transaction: inbox rows for the new messages, then their handlers' effects."""
        async with self._sessions() as session, session.begin():
            fresh = await apply_batch(
                session, items, consumer=self.consumer_name, queue=self.topology.queue_name
            )
        self.applied += len(fresh)
        self.batches += 1
        self.duplicates += len(items) - len(fresh)
        applied = {id(item) for item in fresh}
        self.outcomes.update(
            (item.envelope.type, "applied" if id(item) in applied else "duplicate")
            for item in items
        )

    async def _failed(self, item: Decoded, exc: Exception) -> None:
        attempt = _attempt(item.message)
        which = f"envelope {item.message_id} of a bundle: " if item.bundled else ""
        if isinstance(exc, SecurityRefusal):  # a handler found the sender is no party
            if exc.envelope is None:
                exc.envelope = item.envelope
            self._alert(item.message, exc)
            await self._dead_letter(item.message, which + exc.reason, security=exc.code)
        elif isinstance(exc, PermanentMessageError):
            await self._dead_letter(item.message, which + exc.reason)
        elif attempt >= self.topology.max_attempts:
            await self._dead_letter(
                item.message, f"{which}gave up after {attempt} attempts: {exc!r}"
            )
        else:
            log.warning("%s failed (attempt %d), retrying: %r", item.envelope.type, attempt, exc)
            self.outcomes[(item.envelope.type, "retried")] += 1
            await self._republish(
                item.message,
                RETRY_EXCHANGE,
                self.topology.retry_key(attempt),
                {ATTEMPT_HEADER: attempt + 1},
            )

    def _known_type(self, message: AbstractIncomingMessage) -> str:
        """A label from the wire only when we know it (a hostile peer must not add series)."""
        known = bool(message.type and self._handlers.versions(message.type))
        return message.type if known and message.type else "unknown"

    def _alert(self, message: AbstractIncomingMessage, refusal: SecurityRefusal) -> None:
        envelope = refusal.envelope
        self.security_alerts[refusal.code] += 1
        security_alert(
            refusal,
            instance=self.consumer_name,
            message_id=str(envelope.message_id) if envelope else message.message_id,
            message_type=self._known_type(message),
            source=envelope.source if envelope else None,
            target=envelope.target if envelope else None,
        )

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, *, security: str | None = None
    ) -> None:
        log.error("dead-lettering message %s: %s", message.message_id, reason)
        message_type = self._known_type(message)
        record_dead_letter(
            message.headers,
            message_id=str(message.message_id),
            message_type=message_type,
            reason=reason,
        )
        headers: dict[str, Any] = {SECURITY_HEADER: security} if security else {}
        await self._republish(
            message,
            DEAD_EXCHANGE,
            self.topology.queue_name,
            {
                **headers,
                REASON_HEADER: reason[:1000],
                "x-failed-at": datetime.now(UTC).isoformat(),
                "x-original-routing-key": message.routing_key or "",
                "x-original-exchange": message.exchange or "",
                "x-failed-by": self.consumer_name,
                ATTEMPT_HEADER: _attempt(message),
            },
        )
        self.dead_lettered += 1
        self.outcomes[(message_type, "dead_lettered")] += 1

    async def _republish(
        self,
        message: AbstractIncomingMessage,
        exchange_name: str,
        routing_key: str,
        extra_headers: dict[str, Any],
    ) -> None:
        """Publish a copy with confirms, then ack the original (never before the confirm)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            raise ConnectionError("no open channel to republish on")  # left unacked: redelivered
        exchange = (
            channel.default_exchange
            if exchange_name == ""
            else await channel.get_exchange(exchange_name, ensure=False)
        )
        copy = aio_pika.Message(
            message.body,
            headers={**(message.headers or {}), **extra_headers},
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            correlation_id=message.correlation_id,
            timestamp=message.timestamp,
        )
        await exchange.publish(copy, routing_key, mandatory=False, timeout=10)
        await _ack(message)


class Applicable(Protocol):
    """A message ready to apply: what :func:`apply_batch` needs of a delivery (the consumer's
    :class:`Decoded`, or a test's in-process delivery, ``shared.messaging.testing``)."""

    @property
    def envelope(self) -> Envelope: ...
    @property
    def payload(self) -> Contract: ...
    @property
    def handler(self) -> Handler: ...
    @property
    def many(self) -> ManyHandler | None: ...
    @property
    def message_id(self) -> str: ...
    @property
    def trace_headers(self) -> Any: ...


_Item = TypeVar("_Item", bound=Applicable)


def resolve(
    handlers: HandlerRegistry, envelope: Envelope
) -> tuple[Contract, Handler, ManyHandler | None]:
    """The payload of ``envelope`` (its source authorized for its contract, the payload
    validated against it) and the handlers that apply it; :class:`PermanentMessageError` if it
    can never apply."""
    found = handlers.lookup(envelope.type, envelope.schema_version)
    if found is None:
        supported = handlers.versions(envelope.type)
        if not supported:
            raise PermanentMessageError(f"unknown message type {envelope.type!r}")
        raise PermanentMessageError(
            f"unsupported schema version {envelope.schema_version} of {envelope.type!r}"
            f" (supported: {', '.join(map(str, supported))})"
        )
    contract, handler = found
    authorize(contract, envelope)  # before its payload is even parsed
    try:
        payload = contract.model_validate(envelope.payload)
    except ValidationError as exc:
        raise PermanentMessageError(
            f"invalid payload for {envelope.type} v{envelope.schema_version}: {_errors(exc)}"
        ) from exc
    return payload, handler, handlers.many(envelope.type, envelope.schema_version)


async def apply_batch(
    session: AsyncSession, items: Sequence[_Item], *, consumer: str, queue: str
) -> list[_Item]:
    """Apply ``items`` in ``session``'s transaction (the caller commits): record them in the
    inbox, then run the new ones' handlers, a run of consecutive messages sharing a set-based
    handler at once. Returns the new ones (the others were applied before)."""
    fresh = await _record_in_inbox(session, consumer, items)
    for run in _runs(fresh):
        await _apply_run(session, run, queue=queue, batch_size=len(items))
    return fresh


async def _record_in_inbox(
    session: AsyncSession, consumer: str, items: Sequence[_Item]
) -> list[_Item]:
    """Record the batch's messages in the inbox, in one ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING``; return those it inserted (the new ones), in delivery order. A message
    recorded before, or twice in the batch, is applied at most once."""
    unique: dict[str, _Item] = {}
    for item in items:
        unique.setdefault(item.message_id, item)
    now = datetime.now(UTC)
    rows = [
        {
            "consumer": consumer,
            "message_id": message_id,
            "message_type": item.envelope.type,
            "processed_at": now,
        }
        for message_id, item in unique.items()
    ]
    statement = _RECORD_NEW[session.get_bind().dialect.name]
    inserted = await session.execute(statement, rows)  # one INSERT … VALUES for them all
    new = set(inserted.scalars())
    return [item for message_id, item in unique.items() if message_id in new]


async def _apply_run(
    session: AsyncSession, run: Sequence[Applicable], *, queue: str, batch_size: int
) -> None:
    """Apply consecutive messages: at once through a set-based handler, else one by one."""
    many = run[0].many
    if many is not None:
        with consumer_spans(
            [(i.envelope, i.trace_headers) for i in run], queue=queue, batch_size=batch_size
        ) as contexts:
            await many(
                [
                    HandlerContext(session, i.envelope, c)
                    for i, c in zip(run, contexts, strict=True)
                ],
                [i.payload for i in run],
            )
        return
    for item in run:
        with consumer_span(item.envelope, item.trace_headers, queue=queue, batch_size=batch_size):
            await item.handler(HandlerContext(session, item.envelope), item.payload)


# Built once per dialect (decision 0019); executed with the batch's rows, SQLAlchemy sends one
# multi-row INSERT ("insertmanyvalues") and RETURNING names only the rows it inserted.
_RECORD_NEW = {
    name: insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


def _runs(items: Sequence[_Item]) -> list[list[_Item]]:
    """Split into maximal runs of consecutive messages sharing a set-based handler (order kept)."""
    runs: list[list[_Item]] = []
    for item in items:
        if runs and item.many is not None and runs[-1][0].many is item.many:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _by_delivery(items: Sequence[Decoded]) -> list[list[Decoded]]:
    """``items`` grouped by the delivery that carried them (a bundle's envelopes together)."""
    groups: dict[int, list[Decoded]] = {}
    for item in items:
        groups.setdefault(id(item.message), []).append(item)
    return list(groups.values())


def _envelope_count(message: AbstractIncomingMessage) -> int:
    """How many envelopes a delivery says it carries, for batch sizing only (never trusted for
    anything else: the body decides)."""
    value = (message.headers or {}).get(BUNDLE_HEADER, 1)
    return min(max(value, 1), MAX_BUNDLE_RECEIVED) if isinstance(value, int) else 1


def _attempt(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) else 1


def _channel_of(message: AbstractIncomingMessage) -> int | None:
    """The delivery's channel (its id), None once that channel is closed."""
    try:
        return id(message.channel)
    except ChannelInvalidStateError:
        return None


async def _ack(message: AbstractIncomingMessage, *, multiple: bool = False) -> None:
    # After a reconnect the delivery's channel is gone; the broker redelivers it and the inbox
    # recognises it, so a failed ack is harmless.
    try:
        await message.ack(multiple=multiple)
    except Exception as exc:
        log.info("ack of %s failed (%r); it will be redelivered", message.message_id, exc)


async def prune_inbox(
    session_factory: SessionFactory, consumer: str, older_than: datetime, chunk: int = 5_000
) -> int:
    """Forget ``consumer``'s inbox rows recorded before ``older_than``, ``chunk`` rows per
    transaction (a backlog of millions never holds one long lock); returns how many."""
    doomed = (
        select(inbox.c.message_id)
        .where(inbox.c.consumer == consumer, inbox.c.processed_at < older_than)
        .limit(chunk)
        .scalar_subquery()
    )
    statement = delete(inbox).where(inbox.c.consumer == consumer, inbox.c.message_id.in_(doomed))
    total = 0
    while True:
        async with session_factory() as session, session.begin():
            result = await session.execute(statement)
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < chunk:
            return total
