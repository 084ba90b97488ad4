"""The province's HTTP API: its officers' task list (province-direct schools and the
province's own transfer steps), archives, the hand-overs of archives to other provinces, and
the archives as a school sees them (live, or the backup of a student who left)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from components.approval_desk import queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.schemas import TaskListQuery, TaskPage
from services.province.domain.archive import OPEN_HANDOVER_STATES, HandoverState
from services.province.entrypoints.schemas import (
    ArchiveRead,
    BackupRead,
    HandoverPage,
    HandoverRead,
)
from services.province.service_layer import archive_queries
from shared.audit.recording import audited
from shared.db.types import SQL_INT_MAX
from shared.federation.config import School, Tier
from shared.runtime.app import require_hosted
from shared.runtime.bulk import answer
from shared.runtime.errors import NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, PathUnit, requires

# National sees basic info only: everything of the province's archives bars it. A province's
# task list is open to the levels above like a county's.
THE_PROVINCE = PathUnit("province_code", Tier.PROVINCE)
ArchiveOfProvince = requires(*READERS, unit=THE_PROVINCE, barred=[Tier.NATIONAL])
ArchiveOfSchool = requires(
    *READERS, unit=PathUnit("school_code", Tier.SCHOOL), barred=[Tier.NATIONAL]
)

HandoverFilter = Literal["open", "received", "all"]


def build_router(desk: ApprovalDesk) -> APIRouter:
    runtime = desk.runtime
    router = APIRouter(prefix="/api/v1/provinces")

    @router.get(
        "/{province_code}/tasks",
        dependencies=[audited("list", "task"), requires(*READERS, unit=THE_PROVINCE)],
        response_model=TaskPage,
        tags=["registry authority"],
        summary="A province's tasks",
    )
    async def list_tasks(
        province_code: str, query: Annotated[TaskListQuery, Query()], request: Request
    ) -> Response:
        """Approval tasks of the province's direct schools, oldest first or by due date
        (``order=due``); filter by status, kind and school. With its ``ETag``;
        ``If-None-Match`` naming it answers 304 without a body (and without an audit entry:
        nothing is disclosed), and with ``wait`` only once the list changes (a long poll) or
        after ``wait`` seconds."""
        require_hosted(runtime, province_code, "province")
        tag = request.headers.get("if-none-match")
        unit = desk.unit(province_code)
        return answer(await queries.list_tasks_unless(desk, unit, query, tag))

    @router.get(
        "/{province_code}/archives/{student_number}",
        dependencies=[audited("read", "archive"), ArchiveOfProvince],
        response_model=ArchiveRead,
        tags=["archive"],
        summary="A student's archive",
    )
    async def read_archive(province_code: str, student_number: str) -> ArchiveRead:
        """The archive of a student of this province, by student number (404 otherwise)."""
        require_hosted(runtime, province_code, "province")
        record = await archive_queries.read_archive(runtime.sessions, province_code, student_number)
        return ArchiveRead.of(record.archive, record.entries)

    @router.get(
        "/{province_code}/archive-handovers",
        dependencies=[audited("list", "archive_handover"), ArchiveOfProvince],
        response_model=HandoverPage,
        tags=["archive"],
        summary="Archives handed to other provinces after transfers, by due date",
    )
    async def list_handovers(
        province_code: str,
        state: HandoverFilter = "open",
        overdue: Annotated[bool, Query(description="only open ones past their due date")] = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
    ) -> HandoverPage:
        """``open``: sent and not yet received, or missing (no archive here to hand over);
        each due 1 month after the transfer (N2013 art. 15), ``overdue`` once past it."""
        require_hosted(runtime, province_code, "province")
        today = runtime.clock.today()
        rows, total = await archive_queries.list_handovers(
            runtime.sessions,
            province_code,
            states=_states(state),
            overdue_on=today if overdue else None,
            limit=limit,
            offset=offset,
        )
        return HandoverPage(
            items=[HandoverRead.of(row, today) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    return router


THE_CITY = PathUnit("city_code", Tier.CITY)


def build_city_router(desk: ApprovalDesk) -> APIRouter:
    """A city / prefecture's desk (decision 0034): the province instance hosting the city
    serves its task list; single tasks and (bulk) decisions are the desk's own routes."""
    runtime = desk.runtime
    router = APIRouter(prefix="/api/v1/cities")

    @router.get(
        "/{city_code}/tasks",
        dependencies=[audited("list", "task"), requires(*READERS, unit=THE_CITY)],
        response_model=TaskPage,
        tags=["registry authority"],
        summary="A city's tasks",
    )
    async def list_city_tasks(
        city_code: str, query: Annotated[TaskListQuery, Query()], request: Request
    ) -> Response:
        """Approval tasks of the city (市、州): its city-run schools' submissions, its steps
        in their transfers, interventions for their late steps, and what its schools file
        with it (备案: LS 2(二)5's graduating-year suspensions, LS 6's Yi-track rosters).
        Oldest first or by due date, filtered by status, kind and school; ``ETag`` and long
        poll as a county's."""
        unit = desk.unit(city_code, Tier.CITY)
        if not runtime.hosts_unit(unit):
            raise NotFound(f"city {city_code} is not served here", rule="unit_not_served")
        tag = request.headers.get("if-none-match")
        return answer(await queries.list_tasks_unless(desk, unit, query, tag))

    return router


def _states(state: HandoverFilter) -> tuple[str, ...] | None:
    if state == "open":
        return tuple(OPEN_HANDOVER_STATES)
    if state == "received":
        return (HandoverState.RECEIVED,)
    return None


def build_school_router(runtime: ServiceRuntime) -> APIRouter:
    """Archives as the schools of this province's instance see them."""
    router = APIRouter(prefix="/api/v1/schools", tags=["archive"])

    @router.get(
        "/{school_code}/archives/{student_number}",
        dependencies=[audited("read", "archive"), ArchiveOfSchool],
        response_model=ArchiveRead,
        summary="The live archive of a student of this school",
    )
    async def read_school_archive(school_code: str, student_number: str) -> ArchiveRead:
        """Served only while the archive is with this school: after a transfer it belongs to
        the receiving school (404 ``archive_transferred`` points to this school's backup)."""
        school = hosted_school(runtime, school_code)
        record = await archive_queries.read_school_archive(
            runtime.sessions, school.province, school.code, student_number
        )
        return ArchiveRead.of(record.archive, record.entries)

    @router.get(
        "/{school_code}/archive-backups/{student_number}",
        dependencies=[audited("read", "archive_backup"), ArchiveOfSchool],
        response_model=BackupRead,
        summary="A sending school's read-only backup of a transferred student's archive",
    )
    async def read_backup(school_code: str, student_number: str) -> BackupRead:
        """The archive as it was when the student transferred away (N2013 art. 9: the
        sending school keeps an electronic backup); the newest one if they left twice."""
        school = hosted_school(runtime, school_code)
        backup = await archive_queries.read_backup(
            runtime.sessions, school.province, school.code, student_number
        )
        return BackupRead.of(backup)

    return router


def hosted_school(runtime: ServiceRuntime, school_code: str) -> School:
    """A school of a province this instance hosts (404 otherwise)."""
    school = runtime.federation.school(school_code)
    if school is None or not runtime.hosts(school.province):
        raise NotFound(f"school {school_code} is not served here", rule="school_not_served")
    return school
