"""National's status-change endpoints: one decided change, and the operator's suspension sweep.

Thin: validate, call the service layer, shape the answer.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.national.adapters.status_repository import StatusRepository
from services.national.entrypoints.transfer_http import DepsDep, NationalOperator
from services.national.service_layer.status_changes import sweep_suspensions
from shared.audit.recording import audited
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
from shared.security.authz import OBJECT, READERS, Access, requires

status_router = APIRouter(prefix="/api/v1/status-changes", tags=["status changes"])
operations_router = APIRouter(prefix="/api/v1/operations", tags=["operations"])


class SuspensionSweepCreate(BaseModel):
    as_of: date | None = Field(default=None, description="the day to sweep for; default today")


class SuspensionSweepRead(BaseModel):
    as_of: date
    lapsed: int = Field(description="suspensions over and made other_departure (LS 2(二)3)")
    left_to_schools: int = Field(
        description="suspensions over in provinces that leave the next step to the school"
    )


@status_router.get(
    "/{change_id}",
    summary="A status change as national decided it",
    dependencies=[audited("read", "status_change")],
)
async def read_status_change(
    change_id: uuid.UUID,
    runtime: RuntimeDep,
    access: Annotated[Access, requires(*READERS, unit=OBJECT)],
) -> dict[str, Any]:
    """The ``status_change.decided`` national sent for this change (basic facts only), for
    the student's school and the units above it."""
    async with runtime.sessions() as session:
        record = await StatusRepository(session).record(str(change_id))
    missing = f"status change {change_id} is not known here"
    if record is None:
        raise NotFound(missing, rule="change_not_found")
    school = UnitRef(tier=Tier.SCHOOL, code=str(record.decision.get("school_code", "")))
    access.check(school, not_found=missing, rule="change_not_found")
    return dict(record.decision)


@operations_router.post(
    "/suspension-sweep",
    response_model=SuspensionSweepRead,
    summary="Lapse the suspensions that ended without resumption",
    dependencies=[audited("sweep", "suspensions", object_id=None), NationalOperator],
)
async def run_suspension_sweep(
    body: SuspensionSweepCreate, uow: UnitOfWorkDep, deps: DepsDep
) -> SuspensionSweepRead:
    """Suspensions whose end is before ``as_of`` (default today) and were neither resumed nor
    extended become ``other_departure`` in provinces whose rules say
    ``lapse_to_other_departure`` (LS 2(二)3), each announced to its school and province; the
    others are counted and left to their schools. Running it again changes nothing."""
    as_of = body.as_of or deps.clock.today()
    report = await sweep_suspensions(
        uow.session, uow.emitter(NATIONAL), deps.rulebook, as_of, deps.clock.now()
    )
    return SuspensionSweepRead(
        as_of=report.as_of, lapsed=report.lapsed, left_to_schools=report.left_to_schools
    )
