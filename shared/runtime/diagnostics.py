"""Federation probes: an operator pings any unit from any unit through the real message path.

A ping goes outbox → broker → the target's inbox, which answers with a pong the same way; the
probe row shows the round trip. It is how an operator checks that a newly added unit is wired
(bindings, hosting, both databases) without touching student data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Timestamp
from shared.federation.config import UnitRef
from shared.messaging.envelope import EVERY_TIER, Contract, contract
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.tables import probe
from shared.runtime.app import RuntimeDep, UnitOfWorkDep, require_hosted
from shared.runtime.errors import DomainError, NotFound
from shared.security.authz import OBJECT, Access, requires
from shared.security.principal import Role


@contract("diagnostics.ping", 1, senders=EVERY_TIER, targets=EVERY_TIER)
class Ping(Contract):
    probe_id: uuid.UUID


@contract("diagnostics.pong", 1, senders=EVERY_TIER, targets=EVERY_TIER)
class Pong(Contract):
    probe_id: uuid.UUID
    answered_by: str = Field(max_length=60)


def register_diagnostics(handlers: HandlerRegistry, instance_name: str) -> None:
    @handlers.handles(Ping)
    async def on_ping(ctx: HandlerContext, ping: Ping) -> None:
        await ctx.emit(
            Pong(probe_id=ping.probe_id, answered_by=instance_name), target=ctx.envelope.source
        )

    @handlers.handles(Pong)
    async def on_pong(ctx: HandlerContext, pong: Pong) -> None:
        await ctx.session.execute(
            update(probe)
            .where(probe.c.probe_id == str(pong.probe_id), probe.c.answered_at.is_(None))
            .values(answered_at=datetime.now(UTC), answered_by=pong.answered_by)
        )


class PingCreate(BaseModel):
    source: str = Field(description="hosted unit sending the ping, e.g. 'school:4101020001'")
    target: str = Field(description="unit to ping, e.g. 'national:CN'")


class PingRead(BaseModel):
    probe_id: uuid.UUID
    source: str
    target: str
    sent_at: Timestamp
    answered_at: Timestamp | None
    answered_by: str | None
    round_trip_ms: float | None


router = APIRouter(prefix="/api/v1/diagnostics", tags=["operations"])

# Operators of the probe's source unit, or of a unit above it.
OperatorAccess = Annotated[Access, requires(Role.OPERATOR, unit=OBJECT)]


def _unit(text: str) -> UnitRef:
    try:
        return UnitRef.parse(text)
    except ValueError as exc:
        raise DomainError(f"not a unit reference (tier:code): {text!r}", rule="bad_unit") from exc


@router.post("/pings", status_code=202, response_model=PingRead, summary="Ping a unit")
async def send_ping(
    body: PingCreate, runtime: RuntimeDep, uow: UnitOfWorkDep, access: OperatorAccess
) -> PingRead:
    """Send a probe from a hosted unit to any unit; poll the probe for its answer."""
    source, target = _unit(body.source), _unit(body.target)
    if source.tier != runtime.tier:
        raise NotFound(f"{source} is not served here", rule="unit_not_served")
    require_hosted(runtime, source.code, str(source.tier))
    access.check(source, not_found=f"{source} is not served here")
    probe_id, now = uuid.uuid4(), datetime.now(UTC)
    await uow.session.execute(
        insert(probe).values(
            probe_id=str(probe_id), source=str(source), target=str(target), sent_at=now
        )
    )
    await uow.emitter(source)(Ping(probe_id=probe_id), target=target)
    return await _ping(uow.session, probe_id, access)


@router.get("/pings/{probe_id}", response_model=PingRead, summary="A probe and its answer")
async def read_ping(probe_id: uuid.UUID, runtime: RuntimeDep, access: OperatorAccess) -> PingRead:
    async with runtime.sessions() as session:
        return await _ping(session, probe_id, access)


async def _ping(session: AsyncSession, probe_id: uuid.UUID, access: Access) -> PingRead:
    query = select(probe).where(probe.c.probe_id == str(probe_id))
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound("no such probe", rule="probe_not_found")
    access.check(UnitRef.parse(row.source), not_found="no such probe")
    trip = (row.answered_at - row.sent_at).total_seconds() * 1000 if row.answered_at else None
    return PingRead(
        probe_id=probe_id,
        source=row.source,
        target=row.target,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        round_trip_ms=trip,
    )
