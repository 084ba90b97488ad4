"""The unit of work of an HTTP request: one transaction, its messages staged in the outbox."""

from __future__ import annotations

import uuid
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import SessionFactory
from shared.federation.config import UnitRef
from shared.messaging.emit import Emit
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.outbox import stage


class UnitOfWork:
    """``async with UnitOfWork(factory) as uow: ...; await uow.commit()`` — rolls back otherwise."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._factory = session_factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work not entered")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            await session.rollback()  # no-op after commit
        finally:
            await session.close()

    async def emit(
        self,
        payload: Contract,
        *,
        source: UnitRef,
        target: UnitRef,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Envelope:
        """Stage a message to be published once this unit of work commits.

        ``trace_context`` continues a stored trace (e.g. the flow whose message opened the task
        an officer now decides); by default the message joins the request's own trace.
        """
        envelope = build_envelope(
            payload,
            source=source,
            target=target,
            correlation_id=correlation_id,
            causation_id=causation_id,
            trace_context=trace_context or None,
        )
        await stage(self.session, [envelope])
        return envelope

    def emitter(
        self,
        source: UnitRef,
        *,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Emit:
        """The :class:`~shared.messaging.emit.Emit` of this unit of work for ``source``."""

        async def emit(payload: Contract, *, target: UnitRef) -> Envelope:
            return await self.emit(
                payload,
                source=source,
                target=target,
                correlation_id=correlation_id,
                causation_id=causation_id,
                trace_context=trace_context,
            )

        return emit

    async def commit(self) -> None:
        await self.session.commit()
