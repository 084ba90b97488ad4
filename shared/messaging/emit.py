"""The one port through which business code causes a message: :class:`Emit`.

A use case is handed an ``Emit`` and calls ``await emit(payload, target=unit)``; the message is
staged in the outbox of the transaction the caller is in and published once that transaction
commits (the boundary that opened it commits: the request dependency, the message consumer or
the periodic task runner). Two implementations exist, both in this package:

- :meth:`shared.messaging.handlers.HandlerContext.emit`: in a message handler, the addressed
  unit is the source, and the incoming message's correlation and causation carry on;
- :meth:`shared.messaging.uow.UnitOfWork.emitter`: in a request or a periodic task, for a
  source unit named by the caller (and, optionally, the flow the message continues);
- :meth:`HeldMessages.emitter`: the messages wait and are staged together, in one statement,
  when the caller says (a set-based run at its end: decision 0019).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from shared.federation.config import UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.outbox import stage


class Emit(Protocol):
    """Stage one message to ``target`` in the current transaction; returns its envelope."""

    async def __call__(self, payload: Contract, *, target: UnitRef) -> Envelope: ...


class HeldMessages:
    """Messages emitted now and staged later, all in one INSERT (:meth:`stage`): a set-based
    run's handlers emit as they go and the run stages once at its end; one notice to several
    units is one statement. Staged in the order emitted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def emitter(
        self,
        source: UnitRef,
        *,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Emit:
        """The :class:`Emit` of one flow (``source``, correlation, causation, trace)."""

        async def emit(payload: Contract, *, target: UnitRef) -> Envelope:
            envelope = build_envelope(
                payload,
                source=source,
                target=target,
                correlation_id=correlation_id,
                causation_id=causation_id,
                trace_context=trace_context or None,
            )
            self.envelopes.append(envelope)
            return envelope

        return emit

    async def stage(self, session: AsyncSession) -> None:
        """Stage the held messages in ``session``'s transaction, in one statement."""
        if self.envelopes:
            await stage(session, self.envelopes)
            self.envelopes = []
