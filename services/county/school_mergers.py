"""A school merged into another, or closed with its students going to the school the county
designates (学校合并、撤销: N2013 art. 9 — "学校合并或撤销的，学生学籍档案转至合并后学校或由
县级教育行政部门指定的学校"; decision 0043).

The county's operator posts the merger (``POST /api/v1/counties/{county}/school-mergers``):
the county keeps one row per merger and sends one ``school.merged`` to national, naming the
operator as the decider. National moves the registrations set-based and answers with one
``school.merged_applied`` per 2,000 students; the county adds each batch to the merger's
report (students moved, students refused with their rule), which its officers read at
``GET /api/v1/counties/{county}/school-mergers/{merger_id}``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
    update,
)

from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.decider import Decider
from shared.contracts.merger import MERGER_ARTICLE, SchoolMerged, SchoolMergedApplied
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.authorization import require_source
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.runtime.app import UnitOfWorkDep, require_hosted
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, Access, PathUnit, Reach, requires
from shared.security.principal import Role

REQUESTED = "requested"
APPLIED = "applied"


def define_merger_table(metadata: MetaData) -> Table:
    table = Table(
        "school_merger",
        metadata,
        Column("merger_id", String(36), primary_key=True),
        Column("county_code", String(6), nullable=False),
        Column("from_school", String(10), nullable=False),
        Column("to_school", String(10), nullable=False),
        Column("kind", String(10), nullable=False),  # merged / closed
        Column("closed_on", Date, nullable=False),
        Column("decided_by", String(80), nullable=False),
        Column("requested_at", DateTime(timezone=True), nullable=False),
        Column("status", String(12), nullable=False),  # requested / applied
        Column("batches", Integer, nullable=True),
        Column("batches_received", Integer, nullable=False),
        Column("moved", Integer, nullable=False),
        Column("refused", Integer, nullable=False),
        Column("refusals", JSON, nullable=False),  # [{student_number, rule, article}]
        Column("applied_at", DateTime(timezone=True), nullable=True),
    )
    # one merger per closing school; the county's list, newest first
    Index("uq_school_merger_from", table.c.from_school, unique=True)
    Index("ix_school_merger_county", table.c.county_code, table.c.requested_at)
    return table


def register(handlers: HandlerRegistry, runtime: ServiceRuntime, table: Table) -> None:
    async def on_applied(ctx: HandlerContext, applied: SchoolMergedApplied) -> None:
        require_source(ctx, NATIONAL, "a school merger's outcome")
        row = (
            await ctx.session.execute(
                select(table).where(table.c.merger_id == str(applied.merger_id))
            )
        ).first()
        if row is None:
            from_school = runtime.federation.school(applied.from_school)
            if from_school is not None and from_school.authority_unit != ctx.unit:
                return  # told as the receiving school's county: the report is the decider's
            raise PermanentMessageError(f"merger {applied.merger_id} is not known here")
        refusals = list(row.refusals) + [r.model_dump(mode="json") for r in applied.refused]
        received = row.batches_received + 1
        await ctx.session.execute(
            update(table)
            .where(table.c.merger_id == str(applied.merger_id))
            .values(
                batches=applied.batches,
                batches_received=received,
                moved=row.moved + len(applied.moved),
                refused=row.refused + len(applied.refused),
                refusals=refusals,
                status=APPLIED if received >= applied.batches else REQUESTED,
                applied_at=applied.applied_at,
            )
        )

    handlers.register(SchoolMergedApplied, on_applied)


class MergerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_school: str = Field(pattern=r"^[1-8][0-9]{9}$", description="the school merged or closed")
    to_school: str = Field(
        pattern=r"^[1-8][0-9]{9}$",
        description="the merged school, or the school the county designates for a closure",
    )
    kind: Literal["merged", "closed"] = "merged"
    closed_on: date


class Refusal(BaseModel):
    student_number: str
    rule: str
    article: str


class MergerRead(BaseModel):
    merger_id: uuid.UUID
    county_code: str
    from_school: str
    to_school: str
    kind: str
    closed_on: date
    decided_by: str
    requested_at: Timestamp
    status: str = Field(description="requested, or applied once every batch is back")
    moved: int = Field(description="students whose registration and archive moved")
    refused: int = Field(description="students left at the closed school (a move in flight)")
    refusals: list[Refusal]
    applied_at: Timestamp | None


class MergerList(BaseModel):
    county_code: str
    items: list[MergerRead]


def build_router(runtime: ServiceRuntime, table: Table) -> APIRouter:
    router = APIRouter(prefix="/api/v1/counties", tags=["school mergers"])

    @router.post(
        "/{county_code}/school-mergers",
        status_code=202,
        dependencies=[audited("merge_school", "school_merger", object_id=None)],
        response_model=MergerRead,
        summary="Merge or close a school of the county (N2013 art. 9)",
    )
    async def merge_school(
        county_code: str,
        body: MergerCreate,
        uow: UnitOfWorkDep,
        access: Annotated[
            Access,
            requires(Role.OPERATOR, unit=PathUnit("county_code", Tier.COUNTY), reach=Reach.OWN),
        ],
    ) -> MergerRead:
        """One message to national for the whole school. Refused here: ``merger_unknown_school``,
        ``school_not_in_county`` (the closing school must be one the county is the registry
        authority of), ``merger_other_province``, ``merger_same_school``, and 409
        ``school_closed`` for a school already merged or closed."""
        require_hosted(runtime, county_code, "county")
        unit = UnitRef(tier=Tier.COUNTY, code=county_code)
        from_school = runtime.federation.school(body.from_school)
        to_school = runtime.federation.school(body.to_school)
        if from_school is None or to_school is None:
            raise DomainError(
                "a school of the merger is not known to the registry", rule="merger_unknown_school"
            )
        if from_school.authority_unit != unit:
            raise DomainError(
                f"county {county_code} is not the registry authority of school {from_school.code}",
                rule="school_not_in_county",
                article=MERGER_ARTICLE,
            )
        if from_school.code == to_school.code:
            raise DomainError("a school does not merge into itself", rule="merger_same_school")
        if to_school.province != from_school.province:
            raise DomainError(
                "the receiving school must be in the closing school's province",
                rule="merger_other_province",
                article=MERGER_ARTICLE,
            )
        session = uow.session
        taken = (
            await session.execute(
                select(table.c.merger_id).where(
                    table.c.from_school.in_([from_school.code, to_school.code])
                )
            )
        ).first()
        if taken is not None:
            raise Conflict(
                "one of these schools is already merged or closed",
                rule="school_closed",
                article=MERGER_ARTICLE,
            )
        merger_id = uuid.uuid4()
        now = runtime.clock.now()
        decider = Decider(account=access.principal.username, unit=str(unit))
        row: dict[str, Any] = {
            "merger_id": str(merger_id),
            "county_code": county_code,
            "from_school": from_school.code,
            "to_school": to_school.code,
            "kind": body.kind,
            "closed_on": body.closed_on,
            "decided_by": decider.account,
            "requested_at": now,
            "status": REQUESTED,
            "batches": None,
            "batches_received": 0,
            "moved": 0,
            "refused": 0,
            "refusals": [],
            "applied_at": None,
        }
        await session.execute(table.insert().values(row))
        emit = uow.emitter(unit, correlation_id=merger_id)
        await emit(
            SchoolMerged(
                merger_id=merger_id,
                from_school=from_school.code,
                to_school=to_school.code,
                kind=body.kind,
                closed_on=body.closed_on,
                decider=decider,
            ),
            target=NATIONAL,
        )
        return _read(row)

    @router.get(
        "/{county_code}/school-mergers",
        dependencies=[
            audited("list", "school_merger"),
            requires(*READERS, Role.OPERATOR, unit=PathUnit("county_code", Tier.COUNTY)),
        ],
        response_model=MergerList,
        summary="The county's school mergers and closures, newest first",
    )
    async def list_mergers(
        county_code: str, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> MergerList:
        require_hosted(runtime, county_code, "county")
        query = (
            select(table)
            .where(table.c.county_code == county_code)
            .order_by(table.c.requested_at.desc())
            .limit(limit)
        )
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return MergerList(county_code=county_code, items=[_read(dict(r)) for r in rows])

    @router.get(
        "/{county_code}/school-mergers/{merger_id}",
        dependencies=[
            audited("read", "school_merger"),
            requires(*READERS, Role.OPERATOR, unit=PathUnit("county_code", Tier.COUNTY)),
        ],
        response_model=MergerRead,
        summary="A school merger and its report: students moved and refused",
    )
    async def read_merger(county_code: str, merger_id: uuid.UUID) -> MergerRead:
        require_hosted(runtime, county_code, "county")
        query = select(table).where(
            table.c.merger_id == str(merger_id), table.c.county_code == county_code
        )
        async with runtime.sessions() as session:
            row = (await session.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"merger {merger_id} is not known here", rule="merger_not_found")
        return _read(dict(row))

    return router


def _read(row: dict[str, Any]) -> MergerRead:
    return MergerRead(
        merger_id=uuid.UUID(str(row["merger_id"])),
        county_code=row["county_code"],
        from_school=row["from_school"],
        to_school=row["to_school"],
        kind=row["kind"],
        closed_on=row["closed_on"],
        decided_by=row["decided_by"],
        requested_at=row["requested_at"],
        status=row["status"],
        moved=row["moved"],
        refused=row["refused"],
        refusals=[Refusal.model_validate(r) for r in row["refusals"]],
        applied_at=row["applied_at"],
    )
