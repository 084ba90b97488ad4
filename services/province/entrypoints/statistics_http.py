"""The province's non-basic statistics of a unit and the units below it (decision 0039):
migrant children, home instruction, the Yi-language track, and archives not handed over in
time. National is barred (basic info only); another province's unit answers 404."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.province.entrypoints.statistics_publisher import publish
from services.province.service_layer.statistics import extended_figures
from shared.audit.recording import audited
from shared.federation.config import Tier, UnitRef
from shared.runtime.app import UnitOfWorkDep, require_hosted
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, PathUnit, QueryUnit, Reach, requires
from shared.security.principal import Role


class ExtendedRead(BaseModel):
    unit: str
    as_of: date
    totals: dict[str, int] = Field(
        description="students (with an active archive), migrant, home_instruction, yi_track"
    )
    by_school: dict[str, dict[str, int]]
    archives_overdue: int = Field(description="cross-province hand-overs past their month")
    dropout_archives_overdue: int = Field(
        description="migrant dropouts' archives not yet sent to the hukou county"
    )


class PublishCreate(BaseModel):
    period: date | None = Field(None, description="the day the figures are for; default today")


class PublishRead(BaseModel):
    period: date
    counties: int = Field(description="statistics.county_extended sent, one per county")


def build_statistics_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["statistics"])

    @router.get(
        "/api/v1/statistics/extended",
        response_model=ExtendedRead,
        summary="Non-basic breakdowns of a unit's students (migrant, home instruction, Yi track)",
        dependencies=[
            audited("read", "statistics", object_id="unit"),
            requires(*READERS, unit=QueryUnit("unit"), barred=[Tier.NATIONAL]),
        ],
    )
    async def read_extended(
        unit: Annotated[str, Query(description="e.g. province:41, county:410102")],
    ) -> ExtendedRead:
        target = UnitRef.parse(unit)
        require_hosted(runtime, target.code[:2], "province")
        async with runtime.sessions() as session:
            found = await extended_figures(
                session, runtime.federation, target, runtime.clock.today()
            )
        return ExtendedRead(
            unit=str(target),
            as_of=found.as_of,
            totals=found.totals,
            by_school=found.by_school,
            archives_overdue=found.archives_overdue,
            dropout_archives_overdue=found.dropout_archives_overdue,
        )

    @router.post(
        "/api/v1/provinces/{province_code}/operations/statistics/publish",
        response_model=PublishRead,
        summary="Send each county of the province its non-basic figures (decision 0047)",
        dependencies=[
            audited("publish", "statistics", object_id=None),
            requires(
                Role.OPERATOR,
                unit=PathUnit("province_code", Tier.PROVINCE),
                reach=Reach.OWN,
            ),
        ],
    )
    async def publish_now(
        province_code: str, body: PublishCreate, uow: UnitOfWorkDep
    ) -> PublishRead:
        """One ``statistics.county_extended`` per county, the archives as they stand now; the
        periodic run sends yesterday's once, this sends a day again (the counties replace)."""
        require_hosted(runtime, province_code, "province")
        period = body.period or runtime.clock.today()
        province = UnitRef(tier=Tier.PROVINCE, code=province_code)
        sent = await publish(uow, runtime, province, period)
        return PublishRead(period=period, counties=sent.counties)

    return router
