"""The school's part in term re-verification (学籍核查, N2013 art. 24; N2025 art. 25): the
campaigns it is asked to take part in, and its roster confirmation. Thin routers."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.school.entrypoints.http import (
    ReaderOfSchool,
    RegistrarOfSchool,
    SchoolDep,
    TodayDep,
)
from services.school.service_layer import verification
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.verification import MAX_ROSTER, RosterLine
from shared.runtime.app import RuntimeDep, UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["verification"])


class RosterConfirmationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: uuid.UUID
    not_attending: list[str] = Field(
        default_factory=list,
        max_length=MAX_ROSTER,
        description="enrolled on the roster but not attending (ghosts to the authority)",
    )
    also_attending: list[RosterLine] = Field(
        default_factory=list,
        max_length=MAX_ROSTER,
        description="attending but not on the roster (人籍分离: checked against the registry)",
    )


class RosterConfirmationAccepted(BaseModel):
    campaign_id: uuid.UUID
    attending: int = Field(description="students confirmed as attending, sent to national")


class CampaignRead(BaseModel):
    campaign_id: uuid.UUID
    term: str
    opened_on: date
    opened_by: str
    confirmed_at: Timestamp | None
    attending: int | None
    not_attending: int | None


@router.get(
    "/schools/{school_code}/verification-campaigns",
    response_model=list[CampaignRead],
    summary="The re-verification campaigns this school is asked to confirm its roster in",
    dependencies=[audited("list", "verification_campaign", object_id=None), ReaderOfSchool],
)
async def list_campaigns(school: SchoolDep, runtime: RuntimeDep) -> list[CampaignRead]:
    async with runtime.sessions() as session:
        rows = await verification.campaigns(session, school.code)
    return [CampaignRead.model_validate(r, from_attributes=True) for r in rows]


@router.post(
    "/schools/{school_code}/roster-confirmations",
    status_code=202,
    response_model=RosterConfirmationAccepted,
    summary="Confirm the roster for a term's campaign (学籍核查)",
    dependencies=[audited("confirm", "roster", object_id=None), RegistrarOfSchool],
)
async def confirm_roster(
    school: SchoolDep,
    body: RosterConfirmationCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    on: TodayDep,
) -> RosterConfirmationAccepted:
    """Every enrolled student on the roster is confirmed as attending except
    ``not_attending``; ``also_attending`` adds students the roster lacks. 404
    ``campaign_not_open``; 422 ``not_on_roster`` / ``already_on_roster`` per line."""
    attending = await verification.confirm_roster(
        uow,
        school,
        body.campaign_id,
        body.not_attending,
        body.also_attending,
        today=on,
        now=runtime.clock.now(),
    )
    return RosterConfirmationAccepted(campaign_id=body.campaign_id, attending=attending)
