"""Basic statistics of a unit and everything below it (decision 0039): headcounts today or
at a past moment, movements of a period, overdue steps, data quality, early-warning alerts.

Anyone of a unit's staff (registrar, approver, auditor) reads its figures and those of the
units below it (``unit`` is checked with ``Reach.ABOVE``; another unit answers 404). Counts
under five are shown as ``null`` unless the caller belongs to the unit asked for. Pure
counts: no export approval needed; ``format=xlsx`` answers the same figures as a workbook.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from components.received_statistics.published import mark_published
from services.national.adapters.orm import statistics_published
from services.national.entrypoints.transfer_http import NationalOperator
from services.national.service_layer import statistics
from services.national.service_layer.statistics_publication import PUBLISHER, publish_day
from shared.audit.recording import audited
from shared.clock import Timestamp, as_utc
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import DomainError
from shared.security.authz import READERS, Access, QueryUnit, principal_unit, requires

statistics_router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"])
operations_router = APIRouter(
    prefix="/api/v1/operations/statistics", tags=["operations"], dependencies=[NationalOperator]
)

UnitReader = Annotated[Access, requires(*READERS, unit=QueryUnit("unit"))]
UnitParam = Annotated[str, Query(description="the unit, e.g. county:410102", examples=["CN"])]
Format = Annotated[Literal["json", "xlsx"], Query(description="json (default) or xlsx")]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _unit(value: str) -> UnitRef:
    return UnitRef.parse(value)


def _moment(value: str | None) -> datetime | None:
    """A date is the end of that Beijing day (the census of the day); a date-time that
    moment."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return statistics.end_of_day(date.fromisoformat(value))
        return as_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise DomainError(
            "as_of must be a date (2026-09-30) or an RFC 3339 date-time",
            rule=statistics.RULE_BAD_PERIOD,
        ) from exc


def workbook(title: str, header: list[str], rows: list[list[Any]]) -> bytes:
    """One sheet: the header, then the rows (counts only: no personal data)."""
    from openpyxl import Workbook  # ~15 MB resident: loaded with the first export (idle memory)

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(header)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    return Response(
        workbook(name, header, rows),
        media_type=_XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


class CountRead(BaseModel):
    keys: dict[str, Any] = Field(description="the value of each dimension of `by`")
    students: int | None = Field(description="null: fewer than 5, shown to the unit only")


class HeadcountRead(BaseModel):
    unit: str
    as_of: Timestamp | None = Field(description="null: today")
    by: list[str]
    total: int | None
    suppressed: bool = Field(description="counts under 5 are hidden (not the caller's unit)")
    rows: list[CountRead]


@statistics_router.get(
    "/headcount",
    response_model=HeadcountRead,
    summary="Students of a unit by grade, gender, ethnicity, status … today or at a date",
    dependencies=[audited("read", "statistics", object_id="unit")],
    responses={200: {"content": {_XLSX: {}}}},
)
async def read_headcount(
    runtime: RuntimeDep,
    access: UnitReader,
    unit: UnitParam,
    by: Annotated[str | None, Query(description="e.g. grade,gender,status")] = None,
    as_of: Annotated[
        str | None, Query(description="a date (its census: end of the day) or a date-time")
    ] = None,
    format: Format = "json",
) -> Any:
    """Counts of the registry's students under ``unit`` (every status, so graduates and
    departures are counted by status too) broken down by ``by``: ``grade``, ``gender``,
    ``ethnicity``, ``status``, ``temporary`` (an ``L`` number), ``province``, ``county``,
    ``school``. ``as_of`` answers from the status history."""
    target = _unit(unit)
    dims = statistics.parse_dimensions(by)
    async with runtime.sessions() as session:
        found = await statistics.headcount(
            session,
            runtime.federation,
            target,
            dims,
            _moment(as_of),
            own_unit=principal_unit(access.principal) == target,
        )
    if format == "xlsx":
        rows = [[*(r.keys[d] for d in dims), r.students] for r in found.rows]
        return _xlsx("headcount", [*dims, "students"], [*rows, [*([""] * len(dims)), found.total]])
    return HeadcountRead(
        unit=str(target),
        as_of=found.as_of,
        by=list(dims),
        total=found.total,
        suppressed=found.suppressed,
        rows=[CountRead(keys=r.keys, students=r.students) for r in found.rows],
    )


class SchoolCountRead(BaseModel):
    code: str
    name: str
    students: int | None = Field(description="null: fewer than 5, shown to the unit only")


class SchoolsPageRead(BaseModel):
    unit: str
    matching: int = Field(description="the unit's schools that match `q`, on every page")
    next_after: str | None = Field(description="`after` for the next page; null: the last")
    suppressed: bool
    rows: list[SchoolCountRead]


@statistics_router.get(
    "/schools",
    response_model=SchoolsPageRead,
    summary="A unit's schools by code, a page at a time, each with its students today",
    dependencies=[audited("read", "statistics", object_id="unit")],
)
async def read_schools(
    runtime: RuntimeDep,
    access: UnitReader,
    unit: UnitParam,
    q: Annotated[
        str, Query(max_length=40, description="a school code's beginning or part of its name")
    ] = "",
    after: Annotated[
        str | None, Query(pattern=r"^[0-9]{10}$", description="the last code of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = statistics.SCHOOLS_PAGE,
) -> SchoolsPageRead:
    """The schools under ``unit`` (a county's 1,000 and more) sorted by code, ``limit`` after
    ``after`` (keyset paging), each with its students today: the counts of the page's
    schools alone, in one grouped statement. ``matching`` counts the schools found."""
    target = _unit(unit)
    async with runtime.sessions() as session:
        found = await statistics.schools_page(
            session,
            runtime.federation,
            target,
            search=q,
            after=after,
            limit=limit,
            own_unit=principal_unit(access.principal) == target,
        )
    return SchoolsPageRead(
        unit=str(target),
        matching=found.matching,
        next_after=found.next_after,
        suppressed=found.suppressed,
        rows=[SchoolCountRead(code=r.code, name=r.name, students=r.students) for r in found.rows],
    )


class MovementsRead(BaseModel):
    unit: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    counts: dict[str, int] = Field(description="movements of each kind in the period")
    transfers: dict[str, dict[str, int]] = Field(
        description="in / out: within_county, cross_county, cross_province"
    )
    other_provinces: dict[str, dict[str, int]] = Field(
        description="cross-province transfers in / out by the other side's province"
    )
    daily: dict[date, dict[str, int]]
    term_reports: str | None = Field(
        description="a county: where the N2013 art. 18 term reports of the province- and "
        "city-run schools in it are (the county service)"
    )

    model_config = {"populate_by_name": True}


@statistics_router.get(
    "/movements",
    response_model=MovementsRead,
    response_model_by_alias=True,
    summary="What moved under a unit in a period: transfers, status changes, graduations …",
    dependencies=[audited("read", "statistics", object_id="unit")],
    responses={200: {"content": {_XLSX: {}}}},
)
async def read_movements(
    runtime: RuntimeDep,
    access: UnitReader,
    unit: UnitParam,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    format: Format = "json",
) -> Any:
    """Registrations, transfers in and out (within the county, cross-county, cross-province
    with the other province), progressions, promotions, suspensions, resumptions, dropouts,
    departures, deaths and graduations between two Beijing dates (both included)."""
    target = _unit(unit)
    if (end - start).days > 400:
        raise DomainError("a period of at most 400 days", rule=statistics.RULE_BAD_PERIOD)
    async with runtime.sessions() as session:
        found = await statistics.movements(session, runtime.federation, target, start, end)
    if format == "xlsx":
        rows: list[list[Any]] = [[k, n] for k, n in found.counts.items()]
        rows += [[f"transfer_{d}_{r}", n] for d, v in found.transfers.items() for r, n in v.items()]
        return _xlsx("movements", ["kind", "students"], rows)
    return MovementsRead(
        unit=str(target),
        start=found.start,
        end=found.end,
        counts=found.counts,
        transfers=found.transfers,
        other_provinces=found.other_provinces,
        daily=found.daily,
        term_reports=f"/api/v1/counties/{target.code}/transfer-reports"
        if target.tier == Tier.COUNTY
        else None,
    )


class OverdueRead(BaseModel):
    party_unit: str
    transfer_steps: int
    progression_steps: int


class OverduePage(BaseModel):
    unit: str
    as_of: date
    items: list[OverdueRead]


@statistics_router.get(
    "/overdue",
    response_model=OverduePage,
    summary="Open transfer and progression steps past due, per deciding party below a unit",
    dependencies=[audited("read", "statistics", object_id="unit")],
)
async def read_overdue(runtime: RuntimeDep, access: UnitReader, unit: UnitParam) -> OverduePage:
    target = _unit(unit)
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        rows = await statistics.overdue_steps(session, runtime.federation, target, today)
    return OverduePage(unit=str(target), as_of=today, items=[OverdueRead(**vars(r)) for r in rows])


class QualityRead(BaseModel):
    unit: str
    as_of: date
    suspects_held: int = Field(description="applicants held by a suspect rule for review")
    temporary_older: int = Field(description="registrations on an L number for longer")
    temporary_months: int
    verification_ghosts: int = Field(description="latest term verification: ghosts")
    verification_mismatches: int
    id_unverified: int = Field(
        description="enrolled students whose identity no term verification confirmed yet"
    )
    by_school: dict[str, dict[str, int]]


@statistics_router.get(
    "/quality",
    response_model=QualityRead,
    summary="Questionable registrations (问题学籍) and unresolved verification findings",
    dependencies=[audited("read", "statistics", object_id="unit")],
)
async def read_quality(
    runtime: RuntimeDep,
    access: UnitReader,
    unit: UnitParam,
    months: Annotated[int, Query(ge=1, le=60, description="L numbers older than this")] = 6,
) -> QualityRead:
    target = _unit(unit)
    async with runtime.sessions() as session:
        found = await statistics.data_quality(
            session, runtime.federation, target, runtime.clock.today(), months
        )
    return QualityRead(**vars(found) | {"unit": str(target)})


class AlertRead(BaseModel):
    alert_id: str
    school_code: str
    province_code: str
    authority_unit: str
    kind: Literal["registrations", "departures"]
    week_start: date
    observed: int = Field(description="in that week")
    baseline: float = Field(description="the school's weekly mean over the 8 weeks before")
    threshold: float
    stdev: float = Field(description="of the school's weekly counts over the 8 weeks before")
    raised_at: Timestamp


class AlertPage(BaseModel):
    unit: str
    since: date
    items: list[AlertRead]


@statistics_router.get(
    "/alerts",
    response_model=AlertPage,
    summary="Early warnings (N2025 art. 23): schools whose week was far outside their history",
    dependencies=[audited("read", "statistics", object_id="unit")],
)
async def read_alerts(
    runtime: RuntimeDep,
    access: UnitReader,
    unit: UnitParam,
    since: Annotated[date | None, Query(description="default: 12 weeks ago")] = None,
) -> AlertPage:
    target = _unit(unit)
    day = since or runtime.clock.today() - timedelta(weeks=12)
    async with runtime.sessions() as session:
        found = await statistics.alerts(session, runtime.federation, target, day)
    return AlertPage(unit=str(target), since=day, items=[AlertRead(**vars(a)) for a in found])


class RollupCreate(BaseModel):
    until: datetime | None = Field(None, description="default: ten minutes ago")


class RollupRead(BaseModel):
    applied_from: Timestamp | None
    applied_to: Timestamp
    periods_begun: int
    periods_ended: int
    combinations: int
    full: bool


@operations_router.post(
    "/rollup",
    response_model=RollupRead,
    summary="Apply the movements since the last roll-up to the headcount",
    dependencies=[audited("rollup", "statistics", object_id=None)],
)
async def rollup(body: RollupCreate, runtime: RuntimeDep, uow: UnitOfWorkDep) -> RollupRead:
    now = runtime.clock.now()
    until = body.until or now - timedelta(minutes=10)
    report = await statistics.roll_up(uow.session, until, now)
    return RollupRead(**vars(report))


class WarningScan(BaseModel):
    week_start: date = Field(description="the Monday of the week to judge")


@operations_router.post(
    "/early-warning",
    response_model=AlertPage,
    summary="Judge a week's registrations and departures of every school against its history",
    dependencies=[audited("scan", "statistics", object_id=None)],
)
async def early_warning(
    body: WarningScan, request: Request, runtime: RuntimeDep, uow: UnitOfWorkDep
) -> AlertPage:
    raised = await statistics.scan_warnings(
        uow.session, runtime.federation, body.week_start, runtime.clock.now(), uow.emitter(NATIONAL)
    )
    return AlertPage(
        unit="national:CN", since=body.week_start, items=[AlertRead(**vars(a)) for a in raised]
    )


class PublishCreate(BaseModel):
    period: date = Field(description="the Beijing day whose figures to send")


class PublishRead(BaseModel):
    period: date
    counties: int = Field(description="statistics.county_figures sent, one per county")
    provinces: int = Field(description="statistics.province_figures sent, one per province")
    rows: int = Field(description="headcount rows in the county messages")


@operations_router.post(
    "/publish",
    response_model=PublishRead,
    summary="Send every county and province its basic figures of a day (decision 0047)",
    dependencies=[audited("publish", "statistics", object_id=None)],
)
async def publish(body: PublishCreate, runtime: RuntimeDep, uow: UnitOfWorkDep) -> PublishRead:
    """One message per county (its schools' census at the end of the day by grade, gender
    and status, and the day's movements) and one per province (by county); the periodic run
    sends yesterday's once, this sends a day again (the receivers replace what they had)."""
    now = runtime.clock.now()
    sent = await publish_day(
        uow.session, uow.emitter(NATIONAL), runtime.federation, body.period, now
    )
    await mark_published(
        uow.session, statistics_published, PUBLISHER, body.period,
        sent.counties + sent.provinces, now,
    )  # fmt: skip
    return PublishRead(**vars(sent))
