"""The province's status-change endpoints: the migrant dropouts' archives due to their hukou
county, the term-end sweep that hands them over, and the archives received for a county."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.province.adapters.status_repository import DropoutRepository
from services.province.service_layer.status_archive import hand_over_dropout_archives
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.db.types import SQL_INT_MAX
from shared.federation.config import Tier, UnitRef
from shared.runtime.app import UnitOfWorkDep, require_hosted
from shared.runtime.errors import NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, PathUnit, Reach, requires
from shared.security.principal import Role

# Archives are non-basic data: national is barred. The hukou county's officers read what was
# handed over for it; the province's operator runs the term-end hand-over.
THE_PROVINCE = PathUnit("province_code", Tier.PROVINCE)


class DropoutSweepCreate(BaseModel):
    as_of: date | None = Field(
        default=None, description="the term end to hand over for; default today (Beijing)"
    )


class DropoutSweepRead(BaseModel):
    as_of: date
    sent: int = Field(description="archives handed to the hukou county's province")
    no_recipient: int = Field(description="hukou province not in the federation: see the list")


class DropoutHandoverRead(BaseModel):
    change_id: uuid.UUID
    student_number: str
    school_code: str
    hukou_county: str
    state: Literal["waiting", "sent", "no_recipient"]
    due_on: date = Field(description="the term end the archive is due at")
    sent_at: Timestamp | None


class DropoutHandoverPage(BaseModel):
    items: list[DropoutHandoverRead]
    total: int


class HukouArchiveRead(BaseModel):
    change_id: uuid.UUID
    student_number: str
    from_school: str
    received_at: Timestamp
    archive: dict[str, Any]


class HukouArchivePage(BaseModel):
    items: list[HukouArchiveRead]
    total: int


def build_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/provinces", tags=["status changes"])

    @router.post(
        "/{province_code}/operations/dropout-handovers",
        response_model=DropoutSweepRead,
        summary="Hand migrant dropouts' archives to their hukou county (term end)",
        dependencies=[
            audited("hand_over", "dropout_archive", object_id=None),
            requires(Role.OPERATOR, unit=THE_PROVINCE, reach=Reach.OWN),
        ],
    )
    async def run_dropout_sweep(
        province_code: str, body: DropoutSweepCreate, uow: UnitOfWorkDep
    ) -> DropoutSweepRead:
        """Every migrant dropout's archive due by ``as_of`` goes to the province of the hukou
        county (N2013 art. 22: 每学期末); set-based per run, each archive once."""
        require_hosted(runtime, province_code, "province")
        as_of = body.as_of or runtime.clock.today()
        source = UnitRef(tier=Tier.PROVINCE, code=province_code)
        report = await hand_over_dropout_archives(
            uow.session,
            province_code,
            runtime.federation,
            uow.emitter(source),
            as_of,
            runtime.clock.now(),
        )
        return DropoutSweepRead(as_of=as_of, sent=report.sent, no_recipient=report.no_recipient)

    @router.get(
        "/{province_code}/dropout-handovers",
        response_model=DropoutHandoverPage,
        summary="Migrant dropouts' archives due to their hukou county",
        dependencies=[
            audited("list", "dropout_handover"),
            requires(*READERS, unit=THE_PROVINCE, barred=[Tier.NATIONAL]),
        ],
    )
    async def list_dropout_handovers(
        province_code: str,
        state: Annotated[Literal["waiting", "sent", "no_recipient"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
    ) -> DropoutHandoverPage:
        require_hosted(runtime, province_code, "province")
        async with runtime.sessions() as session:
            rows, total = await DropoutRepository(session, province_code).page(state, limit, offset)
        return DropoutHandoverPage(
            items=[DropoutHandoverRead.model_validate(r, from_attributes=True) for r in rows],
            total=total,
        )

    @router.get(
        "/{province_code}/counties/{county_code}/hukou-archives",
        response_model=HukouArchivePage,
        summary="Archives handed over for a hukou county of this province",
        dependencies=[
            audited("list", "hukou_archive", object_id="county_code"),
            requires(*READERS, unit=PathUnit("county_code", Tier.COUNTY), barred=[Tier.NATIONAL]),
        ],
    )
    async def list_hukou_archives(
        province_code: str,
        county_code: str,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
    ) -> HukouArchivePage:
        """The archives of migrant children from this county who dropped out elsewhere."""
        require_hosted(runtime, province_code, "province")
        county = runtime.federation.county(county_code)
        if county is not None and county.province != province_code:
            raise NotFound(f"county {county_code} is not in province {province_code}")
        async with runtime.sessions() as session:
            rows, total = await DropoutRepository(session, province_code).hukou_archives(
                county_code, limit, offset
            )
        return HukouArchivePage(
            items=[
                HukouArchiveRead(
                    change_id=r.change_id,
                    student_number=r.student_number,
                    from_school=r.from_school,
                    received_at=r.received_at,
                    archive=r.snapshot,
                )
                for r in rows
            ],
            total=total,
        )

    return router
