"""``GET /api/v1/statistics/received``: the figures other tiers sent a unit hosted here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Table, func, select

from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.federation.config import UnitRef
from shared.runtime.errors import NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, QueryUnit, requires


class ReceivedRead(BaseModel):
    kind: str = Field(description="county_figures | county_extended | province_figures")
    source: str = Field(description="the unit that computed them: national:CN, province:41")
    period: date
    as_of: Timestamp | None = Field(description="the census moment (basic headcounts)")
    computed_at: Timestamp
    received_at: Timestamp
    figures: dict[str, Any] = Field(
        description="rows ([school or county, grade, gender, status, students] or "
        "[school, students, migrant, home_instruction, yi_track]) and totals, as sent"
    )


class ReceivedPage(BaseModel):
    unit: str
    period: date | None = Field(description="the period asked for, else the latest received")
    items: list[ReceivedRead]


def build_router(runtime: ServiceRuntime, table: Table) -> APIRouter:
    router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"])

    @router.get(
        "/received",
        response_model=ReceivedPage,
        summary="The figures national and the province sent a unit (a day's, or the latest)",
        dependencies=[
            audited("read", "statistics", object_id="unit"),
            requires(*READERS, unit=QueryUnit("unit")),
        ],
    )
    async def read_received(
        unit: Annotated[str, Query(description="e.g. county:410102")],
        period: Annotated[date | None, Query(description="a day; default the latest")] = None,
    ) -> ReceivedPage:
        """What the unit was sent (分级汇总, decision 0047): national's basic headcount and
        movements, the province's non-basic breakdowns, each of the latest period received
        of its kind (or of ``period``). Counts only."""
        target = UnitRef.parse(unit)
        if not runtime.hosts_unit(target):
            raise NotFound(f"{target} is not served here", rule="unit_not_served")
        query = select(table).where(table.c.unit == str(target))
        if period is not None:
            query = query.where(table.c.period == period)
        else:
            latest = (
                select(table.c.kind, func.max(table.c.period).label("period"))
                .where(table.c.unit == str(target))
                .group_by(table.c.kind)
                .subquery()
            )
            query = query.join(
                latest, (latest.c.kind == table.c.kind) & (latest.c.period == table.c.period)
            )
        async with runtime.sessions() as session:
            rows = (await session.execute(query.order_by(table.c.kind))).mappings().all()
        return ReceivedPage(
            unit=str(target),
            period=period,
            items=[ReceivedRead.model_validate(dict(row)) for row in rows],
        )

    return router
