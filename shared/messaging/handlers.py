"""Message handlers: which contract each service reacts to, and what a handler is given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.federation.config import UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.outbox import stage


@dataclass
class HandlerContext:
    """One incoming message being applied inside one database transaction."""

    session: AsyncSession
    envelope: Envelope
    # W3C context the emits continue; None means the active span (the usual case).
    trace_context: dict[str, str] | None = None
    _emitted: list[Envelope] = field(default_factory=list)

    @property
    def unit(self) -> UnitRef:
        """The hosted unit the message is addressed to."""
        return self.envelope.target

    async def emit(self, payload: Contract, *, target: UnitRef) -> Envelope:
        """Cause a message, committed with this handler's transaction (same correlation)."""
        [envelope] = await emit_together([(self, payload, target)])
        return envelope

    def caused(self, payload: Contract, *, target: UnitRef) -> Envelope:
        """The envelope of a message this one causes (same correlation), not yet staged."""
        return build_envelope(
            payload,
            source=self.envelope.target,
            target=target,
            correlation_id=self.envelope.correlation_id,
            causation_id=self.envelope.message_id,
            trace_context=self.trace_context,
        )


async def emit_together(
    emits: Sequence[tuple[HandlerContext, Contract, UnitRef]],
) -> list[Envelope]:
    """Cause messages of several contexts sharing one transaction (a set-based handler's run):
    each as its context's :meth:`HandlerContext.emit` would, staged in one INSERT."""
    envelopes = [ctx.caused(payload, target=target) for ctx, payload, target in emits]
    if envelopes:
        await stage(emits[0][0].session, envelopes)
    for (ctx, _, _), envelope in zip(emits, envelopes, strict=True):
        ctx._emitted.append(envelope)
    return envelopes


Handler = Callable[[HandlerContext, Any], Awaitable[None]]
# Applies a run of same-type messages of one delivery batch at once (set-based SQL), in the
# batch's transaction; the contexts and payloads are in delivery order.
ManyHandler = Callable[[Sequence[HandlerContext], Sequence[Any]], Awaitable[None]]


class HandlerRegistry:
    """Maps (message type, schema version) to the handler that applies it."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, int], tuple[type[Contract], Handler]] = {}
        self._many: dict[tuple[str, int], ManyHandler] = {}

    def register(self, contract: type[Contract], handler: Handler) -> None:
        key = (contract.message_type, contract.schema_version)
        if key in self._handlers:
            raise ValueError(f"two handlers for {key}")
        self._handlers[key] = (contract, handler)

    def register_many(self, contract: type[Contract], handler: ManyHandler) -> None:
        """Register a set-based handler: the consumer hands it every consecutive message of
        ``contract`` in a delivery batch at once (a single message is a run of one)."""

        async def one(ctx: HandlerContext, payload: Any) -> None:
            await handler([ctx], [payload])

        self.register(contract, one)
        self._many[(contract.message_type, contract.schema_version)] = handler

    def many(self, message_type: str, version: int) -> ManyHandler | None:
        return self._many.get((message_type, version))

    def handles(self, contract: type[Contract]) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(contract, handler)
            return handler

        return decorate

    def lookup(self, message_type: str, version: int) -> tuple[type[Contract], Handler] | None:
        return self._handlers.get((message_type, version))

    def versions(self, message_type: str) -> list[int]:
        return sorted(v for (t, v) in self._handlers if t == message_type)
