"""The term reports of the province-direct and city-run schools located in a county (N2013
art. 18: 省直管学校、设区的市直管学校学生的转入转出情况，由学校每学期书面告知所在地县(区)
教育行政部门; decision 0034).

National sends one ``transfer.term_report`` per school per term; the county keeps one row per
(county, school, term) — a re-sent report replaces the row — and its officers read them at
``GET /api/v1/counties/{county_code}/transfer-reports``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import JSON, Column, Date, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.transfer_report import TransferLine, TransferTermReport
from shared.federation.config import NATIONAL, Tier
from shared.messaging.authorization import require_source
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.runtime.app import require_hosted
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, PathUnit, requires


def define_report_table(metadata: MetaData) -> Table:
    return Table(
        "transfer_term_report",
        metadata,
        Column("county_code", String(6), primary_key=True),
        Column("term", String(10), primary_key=True),  # the term's last day, ISO
        Column("school_code", String(10), primary_key=True),
        Column("period_start", Date, nullable=False),
        Column("period_end", Date, nullable=False),
        Column("count_in", Integer, nullable=False),
        Column("count_out", Integer, nullable=False),
        Column("transfers_in", JSON, nullable=False),
        Column("transfers_out", JSON, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False),
        # the county's list (of a term), by school, reads the primary key's order
    )


def register(handlers: HandlerRegistry, runtime: ServiceRuntime, table: Table) -> None:
    async def on_term_report(ctx: HandlerContext, report: TransferTermReport) -> None:
        require_source(ctx, NATIONAL, "a term's transfer report")
        school = runtime.federation.school(report.school_code)
        if school is None or school.county != ctx.unit.code:
            raise PermanentMessageError(f"school {report.school_code} is not in {ctx.unit}")
        row: dict[str, Any] = {
            "county_code": ctx.unit.code,
            "term": report.term,
            "school_code": report.school_code,
            "period_start": report.period_start,
            "period_end": report.period_end,
            "count_in": len(report.transfers_in),
            "count_out": len(report.transfers_out),
            "transfers_in": [line.model_dump(mode="json") for line in report.transfers_in],
            "transfers_out": [line.model_dump(mode="json") for line in report.transfers_out],
            "received_at": datetime.now(UTC),
        }
        dialect = ctx.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        keys = ("county_code", "term", "school_code")
        statement = insert(table).values(row)
        await ctx.session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c[k] for k in keys],
                set_={k: statement.excluded[k] for k in row if k not in keys},
            )
        )

    handlers.register(TransferTermReport, on_term_report)


class TermReportRead(BaseModel):
    school_code: str
    school_name: str
    authority: str = Field(description="the school's registry authority (province or city)")
    term: str
    period_start: date
    period_end: date
    transfers_in: list[TransferLine]
    transfers_out: list[TransferLine]
    received_at: Timestamp


class TermReportList(BaseModel):
    county_code: str
    term: str | None
    items: list[TermReportRead]


def build_router(runtime: ServiceRuntime, table: Table) -> APIRouter:
    router = APIRouter(prefix="/api/v1/counties", tags=["transfer reports"])

    @router.get(
        "/{county_code}/transfer-reports",
        dependencies=[
            audited("list", "transfer_term_report"),
            requires(*READERS, unit=PathUnit("county_code", Tier.COUNTY)),
        ],
        response_model=TermReportList,
        summary="The term transfer reports of province-direct and city-run schools here",
    )
    async def list_reports(
        county_code: str,
        term: Annotated[
            str | None,
            Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="a term's last day"),
        ] = None,
    ) -> TermReportList:
        """N2013 art. 18: what each province-direct or city-run school located in the county
        told it of a term's transfers in and out (one report per school per term), newest
        term first, by school."""
        require_hosted(runtime, county_code, "county")
        query = select(table).where(table.c.county_code == county_code)
        if term is not None:
            query = query.where(table.c.term == term)
        query = query.order_by(table.c.term.desc(), table.c.school_code).limit(1000)
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        items = []
        for row in rows:
            school = runtime.federation.school(row["school_code"])
            items.append(
                TermReportRead(
                    school_code=row["school_code"],
                    school_name=school.name if school else row["school_code"],
                    authority=str(school.authority_unit) if school else "",
                    term=row["term"],
                    period_start=row["period_start"],
                    period_end=row["period_end"],
                    transfers_in=[TransferLine.model_validate(x) for x in row["transfers_in"]],
                    transfers_out=[TransferLine.model_validate(x) for x in row["transfers_out"]],
                    received_at=row["received_at"],
                )
            )
        return TermReportList(county_code=county_code, term=term, items=items)

    return router
