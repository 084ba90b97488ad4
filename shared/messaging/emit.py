"""The one port through which business code causes a message: :class:`Emit`.

A use case is handed an ``Emit`` and calls ``await emit(payload, target=unit)``; the message is
staged in the outbox of the transaction the caller is in and published once that transaction
commits (the boundary that opened it commits: the request dependency, the message consumer or
the periodic task runner). Two implementations exist, both in this package:

- :meth:`shared.messaging.handlers.HandlerContext.emit`: in a message handler, the addressed
  unit is the source, and the incoming message's correlation and causation carry on;
- :meth:`shared.messaging.uow.UnitOfWork.emitter`: in a request or a periodic task, for a
  source unit named by the caller (and, optionally, the flow the message continues).
"""

from __future__ import annotations

from typing import Protocol

from shared.federation.config import UnitRef
from shared.messaging.envelope import Contract, Envelope


class Emit(Protocol):
    """Stage one message to ``target`` in the current transaction; returns its envelope."""

    async def __call__(self, payload: Contract, *, target: UnitRef) -> Envelope: ...
