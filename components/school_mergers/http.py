"""The authority's routes: ``POST /api/v1/{counties|cities|provinces}/{code}/school-mergers``
(its operator closes a school it is the registry authority of), its list and each report."""

# No ``from __future__ import annotations``: each tier's routes are built in a closure, and
# FastAPI reads their ``Annotated`` dependencies (which name the closure's tier) at once.
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select

from components.school_mergers.reports import REQUESTED
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.decider import Decider
from shared.contracts.merger import MERGER_ARTICLE, SchoolMerged
from shared.federation.config import NATIONAL, School, Tier, UnitRef
from shared.runtime.app import UnitOfWorkDep
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, Access, PathUnit, Reach, requires
from shared.security.principal import Role

# the authority tiers and their route segment
SEGMENTS = {Tier.COUNTY: "counties", Tier.CITY: "cities", Tier.PROVINCE: "provinces"}
# the refusal of a school the authority does not run; the county's name kept (decision 0043)
NOT_OURS = {
    Tier.COUNTY: "school_not_in_county",
    Tier.CITY: "school_not_run_by_authority",
    Tier.PROVINCE: "school_not_run_by_authority",
}


class MergerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_school: str = Field(pattern=r"^[1-8][0-9]{9}$", description="the school merged or closed")
    to_school: str = Field(
        pattern=r"^[1-8][0-9]{9}$",
        description="the merged school, or the school the authority designates for a closure",
    )
    kind: Literal["merged", "closed"] = "merged"
    closed_on: date


class Refusal(BaseModel):
    student_number: str
    rule: str
    article: str


class MergerRead(BaseModel):
    merger_id: uuid.UUID
    authority_unit: str = Field(description="the deciding authority, e.g. county:410102")
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
    authority_unit: str
    items: list[MergerRead]


def build_router(runtime: ServiceRuntime, table: Table, tiers: Iterable[Tier]) -> APIRouter:
    """The routes of each authority tier in ``tiers`` (the county's; the province's and its
    cities' at the province instance)."""
    router = APIRouter(tags=["school mergers"])
    for tier in tiers:
        _add_routes(router, runtime, table, tier)
    return router


def _add_routes(router: APIRouter, runtime: ServiceRuntime, table: Table, tier: Tier) -> None:
    path = f"/api/v1/{SEGMENTS[tier]}/{{unit_code}}/school-mergers"
    the_unit = PathUnit("unit_code", tier)

    def hosted(unit_code: str) -> UnitRef:
        unit = UnitRef(tier=tier, code=unit_code)
        if not runtime.hosts_unit(unit):
            raise NotFound(f"{tier} {unit_code} is not served here", rule="unit_not_served")
        return unit

    @router.post(
        path,
        status_code=202,
        dependencies=[audited("merge_school", "school_merger", object_id=None)],
        response_model=MergerRead,
        summary=f"Merge or close a school the {tier} runs (N2013 art. 9)",
        name=f"merge_school_{tier}",
    )
    async def merge_school(
        unit_code: str,
        body: MergerCreate,
        uow: UnitOfWorkDep,
        access: Annotated[Access, requires(Role.OPERATOR, unit=the_unit, reach=Reach.OWN)],
    ) -> MergerRead:
        """One message to national for the whole school. Refused here:
        ``merger_unknown_school``; ``school_not_in_county`` (a county) or
        ``school_not_run_by_authority`` (a city or province): the closing school must be one
        this unit is the registry authority of; ``merger_other_province``,
        ``merger_same_school``, and 409 ``school_closed`` for a school already merged or
        closed here."""
        unit = hosted(unit_code)
        from_school, to_school = _checked(runtime, unit, body)
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
        decider = Decider(account=access.principal.username, unit=str(unit))
        row: dict[str, Any] = {
            "merger_id": str(merger_id),
            "authority_unit": str(unit),
            "from_school": from_school.code,
            "to_school": to_school.code,
            "kind": body.kind,
            "closed_on": body.closed_on,
            "decided_by": decider.account,
            "requested_at": runtime.clock.now(),
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
        merged = SchoolMerged(
            merger_id=merger_id,
            from_school=from_school.code,
            to_school=to_school.code,
            kind=body.kind,
            closed_on=body.closed_on,
            decider=decider,
        )
        await emit(merged, target=NATIONAL)
        return _read(row)

    @router.get(
        path,
        dependencies=[
            audited("list", "school_merger"),
            requires(*READERS, Role.OPERATOR, unit=the_unit),
        ],
        response_model=MergerList,
        summary=f"The {tier}'s school mergers and closures, newest first",
        name=f"list_mergers_{tier}",
    )
    async def list_mergers(
        unit_code: str, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> MergerList:
        unit = hosted(unit_code)
        query = (
            select(table)
            .where(table.c.authority_unit == str(unit))
            .order_by(table.c.requested_at.desc())
            .limit(limit)
        )
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return MergerList(authority_unit=str(unit), items=[_read(dict(r)) for r in rows])

    @router.get(
        f"{path}/{{merger_id}}",
        dependencies=[
            audited("read", "school_merger"),
            requires(*READERS, Role.OPERATOR, unit=the_unit),
        ],
        response_model=MergerRead,
        summary="A school merger and its report: students moved and refused",
        name=f"read_merger_{tier}",
    )
    async def read_merger(unit_code: str, merger_id: uuid.UUID) -> MergerRead:
        unit = hosted(unit_code)
        query = select(table).where(
            table.c.merger_id == str(merger_id), table.c.authority_unit == str(unit)
        )
        async with runtime.sessions() as session:
            row = (await session.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"merger {merger_id} is not known here", rule="merger_not_found")
        return _read(dict(row))


def _checked(runtime: ServiceRuntime, unit: UnitRef, body: MergerCreate) -> tuple[School, School]:
    """The two schools, once the refusals that need no database are passed."""
    from_school = runtime.federation.school(body.from_school)
    to_school = runtime.federation.school(body.to_school)
    if from_school is None or to_school is None:
        raise DomainError(
            "a school of the merger is not known to the registry", rule="merger_unknown_school"
        )
    if from_school.authority_unit != unit:
        raise DomainError(
            f"{unit} is not the registry authority of school {from_school.code}",
            rule=NOT_OURS[unit.tier],
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
    return from_school, to_school


def _read(row: dict[str, Any]) -> MergerRead:
    return MergerRead(
        merger_id=uuid.UUID(str(row["merger_id"])),
        authority_unit=row["authority_unit"],
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
