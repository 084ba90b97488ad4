"""Test support for the messaging kernel.

- :class:`InProcessDelivery`: apply messages to a service in-process, through the path the
  consumer takes once a delivery is decoded (the handler registry, the contract's validation,
  the inbox, set-based runs, one transaction), and see what the handlers staged in the outbox.
  Handler tests use it instead of a broker; what it skips is the broker and the signatures.
- :func:`signed_as_source`: publish an envelope as the instance hosting its source unit would
  sign it. Runtimes started without key files (tests, development) trust the development keys
  of every instance of their federation file (``shared.messaging.keys.development_keys``); a
  test that plays another tier on the broker signs with that tier's development key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.db.engine import SessionFactory
from shared.federation.config import Federation, UnitRef
from shared.messaging.consumer import apply_batch, resolve
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.handlers import Handler, HandlerRegistry, ManyHandler
from shared.messaging.keys import development_keys
from shared.messaging.outbox import staged_in
from shared.messaging.signing import SIGNATURE_HEADER

IN_PROCESS = "in-process"  # the inbox's consumer name for in-process deliveries


@dataclass(frozen=True)
class _Delivered:
    """One envelope as the consumer holds it once decoded (``consumer.Applicable``)."""

    envelope: Envelope
    payload: Contract
    handler: Handler
    many: ManyHandler | None

    @property
    def message_id(self) -> str:
        return str(self.envelope.message_id)

    @property
    def trace_headers(self) -> Any:
        return self.envelope.trace_context


@dataclass(frozen=True)
class Delivery:
    """What a delivery applied: the incoming envelopes and the ones their handlers staged
    (in the order staged); ``applied``: how many were new to the inbox."""

    envelopes: list[Envelope]
    staged: list[Envelope]
    applied: int

    @property
    def envelope(self) -> Envelope:
        [envelope] = self.envelopes
        return envelope


class InProcessDelivery:
    """Deliver messages to a service's handlers in-process, as its consumer applies a batch.

    ``await delivery.deliver(payload, source=..., target=...)`` builds the envelope and
    applies it; ``deliver_run`` applies several payloads as one delivery batch (consecutive
    messages of a set-based handler go to it at once, as a run); ``apply`` takes envelopes
    built elsewhere (e.g. staged by another service). Each call is one transaction, committed
    when the handlers return; an envelope the inbox has seen is a duplicate and is skipped,
    as on the broker. A message that can never apply raises ``PermanentMessageError``.
    """

    def __init__(
        self, sessions: SessionFactory, handlers: HandlerRegistry, consumer: str = IN_PROCESS
    ) -> None:
        self._sessions = sessions
        self._handlers = handlers
        self.consumer = consumer

    async def deliver(self, payload: Contract, *, source: UnitRef, target: UnitRef) -> Delivery:
        return await self.apply([build_envelope(payload, source=source, target=target)])

    async def deliver_run(
        self, payloads: Sequence[Contract], *, source: UnitRef, target: UnitRef
    ) -> Delivery:
        return await self.apply([build_envelope(p, source=source, target=target) for p in payloads])

    async def apply(self, envelopes: Sequence[Envelope]) -> Delivery:
        items = [_Delivered(e, *resolve(self._handlers, e)) for e in envelopes]
        async with self._sessions() as session, session.begin():
            fresh = await apply_batch(session, items, consumer=self.consumer, queue=self.consumer)
            staged = await staged_in(session)
        return Delivery(list(envelopes), staged, len(fresh))


def signed_as_source(federation: Federation, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    """``envelope``'s body and the headers its source unit's instance would publish it with."""
    host = federation.instance_hosting(envelope.source)
    if host is None:
        raise LookupError(f"no instance of the federation hosts {envelope.source}")
    signer, _ = development_keys(federation, host.name)
    body = envelope.to_json()
    return body, {SIGNATURE_HEADER: signer.sign(body)}
