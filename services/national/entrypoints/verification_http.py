"""Term re-verification (学籍核查, N2013 art. 24; N2025 art. 25): open a campaign, read what
each school's confirmation found, and a county's unclaimed list. Thin routers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.national.service_layer import verification
from shared.audit.recording import audited
from shared.contracts.verification import VerificationFinding
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.rules import load_province_rules
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
from shared.security.authz import OBJECT, READERS, Access, PathUnit, Reach, requires
from shared.security.principal import Role

verification_router = APIRouter(prefix="/api/v1", tags=["verification"])

# A campaign belongs to its scope: national's, or one province's (opened by its officers).
CampaignOpener = Annotated[
    Access, requires(Role.OPERATOR, Role.APPROVER, unit=OBJECT, reach=Reach.ABOVE)
]
CampaignReader = Annotated[Access, requires(*READERS, Role.OPERATOR, unit=OBJECT)]
# The county's list: its officers and the levels above.
CountyReader = requires(*READERS, unit=PathUnit("county_code", Tier.COUNTY))


def _scope_unit(scope: str) -> UnitRef:
    return NATIONAL if scope == "CN" else UnitRef(tier=Tier.PROVINCE, code=scope)


class CampaignCreate(BaseModel):
    term: str = Field(pattern=r"^[0-9]{4}-(spring|autumn)$", examples=["2026-autumn"])
    scope: str = Field(
        default="CN",
        pattern=r"^(CN|[1-8][0-9])$",
        description="CN for every school, or a province code (a province's own campaign)",
    )
    opened_on: date | None = Field(default=None, description="default: today (Beijing)")


class SchoolResultRead(BaseModel):
    school_code: str
    confirmed_on: date
    attending: int
    registered: int
    ghosts: int
    mismatches: int
    findings: list[VerificationFinding]


class CampaignRead(BaseModel):
    campaign_id: uuid.UUID
    term: str
    scope: str
    opened_on: date
    opened_by: str
    schools: int = Field(description="schools asked to confirm their roster")
    confirmed: list[SchoolResultRead] = Field(description="schools that have confirmed")

    @classmethod
    def of(cls, view: verification.CampaignView) -> CampaignRead:
        c = view.campaign
        return cls(
            campaign_id=uuid.UUID(c.campaign_id),
            term=c.term,
            scope=c.scope,
            opened_on=c.opened_on,
            opened_by=c.opened_by,
            schools=c.schools,
            confirmed=[
                SchoolResultRead.model_validate(s, from_attributes=True) for s in view.schools
            ],
        )


class UnclaimedRead(BaseModel):
    student_number: str
    school_code: str = Field(description="the school the student left")
    grade: int
    status: str
    left_on: date = Field(description="when the registration last changed (Beijing)")


class UnclaimedPage(BaseModel):
    county_code: str
    as_of: date
    after_days: int = Field(description="the province's [verification] unclaimed_after_days")
    items: list[UnclaimedRead]


@verification_router.post(
    "/operations/verification-campaigns",
    status_code=201,
    response_model=CampaignRead,
    summary="Open a term's re-verification campaign (学籍核查)",
    dependencies=[audited("open", "verification_campaign", object_id=None)],
)
async def open_campaign(
    body: CampaignCreate, runtime: RuntimeDep, uow: UnitOfWorkDep, access: CampaignOpener
) -> CampaignRead:
    """Every school of the scope is asked to confirm its roster
    (``verification.campaign_opened``). 409 ``campaign_exists`` for a term and scope opened
    before; 422 ``unknown_scope``. National's operators open any; a province's operators or
    approvers open their province's (404 for another's)."""
    access.check(_scope_unit(body.scope), not_found=f"scope {body.scope} is not served here")
    campaign = await verification.open_campaign(
        uow.session,
        runtime.federation,
        body.term,
        body.scope,
        body.opened_on or runtime.clock.today(),
        runtime.clock.now(),
    )
    return CampaignRead.of(verification.CampaignView(campaign, []))


class CampaignSummaryRead(BaseModel):
    campaign_id: uuid.UUID
    term: str
    scope: str
    opened_on: date
    opened_by: str
    schools: int = Field(description="schools asked to confirm their roster")
    confirmed: int = Field(description="schools that have confirmed")
    ghosts: int = Field(description="ghost registrations found (空挂学籍)")
    mismatches: int = Field(description="mismatches found (人籍分离)")


class CampaignPage(BaseModel):
    items: list[CampaignSummaryRead]


@verification_router.get(
    "/verification-campaigns",
    response_model=CampaignPage,
    summary="A scope's campaigns, newest first, with their findings summed",
    dependencies=[audited("list", "verification_campaign", object_id="scope")],
)
async def list_campaigns(
    runtime: RuntimeDep,
    access: CampaignReader,
    scope: Annotated[str, Query(pattern=r"^(CN|[1-8][0-9])$")] = "CN",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CampaignPage:
    """The campaigns of ``scope`` (CN: national's; a province code: that province's), as
    each campaign's own page allows: national's staff read every scope, a province's its
    own (404 for another)."""
    access.check(_scope_unit(scope), not_found=f"scope {scope} is not served here")
    async with runtime.sessions() as session:
        found = await verification.list_campaigns(session, scope, limit)
    return CampaignPage(
        items=[
            CampaignSummaryRead(
                campaign_id=uuid.UUID(s.campaign.campaign_id),
                term=s.campaign.term,
                scope=s.campaign.scope,
                opened_on=s.campaign.opened_on,
                opened_by=s.campaign.opened_by,
                schools=s.campaign.schools,
                confirmed=s.confirmed,
                ghosts=s.ghosts,
                mismatches=s.mismatches,
            )
            for s in found
        ]
    )


@verification_router.get(
    "/verification-campaigns/{campaign_id}",
    response_model=CampaignRead,
    summary="A campaign and what each school's confirmation found",
    dependencies=[audited("read", "verification_campaign")],
)
async def read_campaign(
    campaign_id: uuid.UUID, runtime: RuntimeDep, access: CampaignReader
) -> CampaignRead:
    async with runtime.sessions() as session:
        view = await verification.read_campaign(session, str(campaign_id))
    access.check(
        _scope_unit(view.campaign.scope),
        not_found=f"campaign {campaign_id} not found",
        rule="campaign_not_found",
    )
    return CampaignRead.of(view)


@verification_router.get(
    "/counties/{county_code}/unclaimed",
    response_model=UnclaimedPage,
    summary="Students who left a school of the county and were not taken back",
    dependencies=[audited("list", "unclaimed", object_id=None), CountyReader],
)
async def read_unclaimed(
    county_code: str,
    runtime: RuntimeDep,
    as_of: Annotated[date | None, Query(description="default: today (Beijing)")] = None,
) -> UnclaimedPage:
    """Dropouts, suspected dropouts and other departures of the county's schools whose
    registration has not changed for the province's ``unclaimed_after_days``."""
    county = runtime.federation.county(county_code)
    if county is None:
        raise NotFound(f"county {county_code} is not in the federation", rule="county_not_found")
    rules = load_province_rules(runtime.settings.federation_config, county.province)
    days = rules.verification.unclaimed_after_days
    day = as_of or runtime.clock.today()
    async with runtime.sessions() as session:
        found = await verification.unclaimed(session, runtime.federation, county_code, day, days)
    return UnclaimedPage(
        county_code=county_code,
        as_of=day,
        after_days=days,
        items=[UnclaimedRead(**vars(u)) for u in found],
    )
