"""The receiving school's progressions (升学, N2013 art. 14; LS 1(二), LS 3(二)): admit a
cohort of graduates in one request and follow each student's outcome.

Thin: resolve the hosted school, call the use case, shape the answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.school.adapters import progression_repository
from services.school.entrypoints.http import (
    THE_SCHOOL,
    ReaderOfSchool,
    SchoolDep,
    TodayDep,
)
from services.school.service_layer import progression_in
from shared import i18n
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.progression import MAX_PROGRESSION_STUDENTS
from shared.db.types import SQL_INT_MAX
from shared.federation.config import Tier
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.security.authz import OBJECT, READERS, Access, Reach, requires
from shared.security.principal import Role

router = APIRouter(prefix="/api/v1", tags=["progressions"])

Registrar = Annotated[Access, requires(Role.REGISTRAR, unit=THE_SCHOOL, reach=Reach.OWN)]
ObjectReader = Annotated[Access, requires(*READERS, unit=OBJECT)]


class ProgressionCreate(BaseModel):
    """A cohort of graduates of ``from_school``: either ``students`` (student numbers or
    resident ID numbers) or ``graduation_year`` (every graduate of that school that year)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    from_school: str = Field(pattern=r"^[1-8][0-9]{9}$", examples=["4101020001"])
    graduation_year: int | None = Field(default=None, ge=2000, le=2999, examples=[2027])
    students: list[str] = Field(
        default_factory=list, max_length=MAX_PROGRESSION_STUDENTS, description="G/L numbers or IDs"
    )
    yi_track_selected: list[str] = Field(
        default_factory=list,
        max_length=MAX_PROGRESSION_STUDENTS,
        description="LS 6: students whose Yi-track selection result this school holds",
    )

    @model_validator(mode="after")
    def _one_selector(self) -> ProgressionCreate:
        if bool(self.students) == (self.graduation_year is not None):
            raise ValueError("give either students or graduation_year")
        return self


class ProgressionAccepted(BaseModel):
    progression_id: uuid.UUID
    status: Literal["requested"] = "requested"
    links: dict[str, str]


class ProgressionItemRead(BaseModel):
    named: str = Field(description="the student number or ID number named")
    outcome: str = Field(
        description="pending | progressed | refused (national's rules) | left_out (a party) | "
        "rejected (the whole cohort)"
    )
    rule: str | None
    message: str | None = Field(description="why, in English")
    message_zh: str | None = Field(description="why, in Chinese (the rule's catalogue text)")
    article: str | None


class ProgressionRead(BaseModel):
    progression_id: uuid.UUID
    school_code: str
    from_school: str
    graduation_year: int | None
    status: str = Field(description="requested | in_progress | completed | rejected | refused")
    rule: str | None
    status_reason: str | None
    requested_by: str
    requested_at: Timestamp
    settled_at: Timestamp | None
    counts: dict[str, int]
    items: list[ProgressionItemRead]


class ProgressionSummary(BaseModel):
    progression_id: uuid.UUID
    from_school: str
    graduation_year: int | None
    named_count: int
    status: str
    requested_at: Timestamp


class ProgressionPage(BaseModel):
    items: list[ProgressionSummary]
    total: int
    limit: int
    offset: int


@router.post(
    "/schools/{school_code}/progressions",
    status_code=202,
    response_model=ProgressionAccepted,
    summary="Admit a cohort of graduates into this school (升学)",
    dependencies=[audited("request_progression", "progression", object_id=None)],
)
async def request_progression(
    school: SchoolDep,
    body: ProgressionCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    on: TodayDep,
    access: Registrar,
) -> ProgressionAccepted:
    """One request for the whole cohort, one message to national.

    Refused here (422): ``same_school``, ``unknown_school``, ``progression_wrong_stage``
    (LS 1(二): the school must teach the stage after the graduating school's), an invalid
    number (``students.<n>``, ``type`` = the GB 11643 rule). National then judges each student
    (``GET /api/v1/progressions/{id}``): ``progression_not_graduated``,
    ``progression_wrong_grade``, ``progression_already_progressed``, ``progression_wrong_school``,
    ``progression_held``, ``progression_unknown_student``, ``progression_yi_track`` (LS 6),
    each with its article.
    """
    request = progression_in.ProgressionRequest(
        from_school=body.from_school,
        graduation_year=body.graduation_year,
        students=body.students,
        yi_track_selected=body.yi_track_selected,
    )
    progression_id = await progression_in.request_progression(
        uow,
        runtime.federation,
        school,
        request,
        requested_by=access.principal.username,
        today=on,
        now=runtime.clock.now(),
    )
    return ProgressionAccepted(
        progression_id=progression_id,
        links={"self": f"/api/v1/progressions/{progression_id}"},
    )


@router.get(
    "/schools/{school_code}/progressions",
    response_model=ProgressionPage,
    summary="The progressions this school started, newest first",
    dependencies=[audited("list", "progression"), ReaderOfSchool],
)
async def list_progressions(
    school: SchoolDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> ProgressionPage:
    async with runtime.sessions() as session:
        rows, total = await progression_repository.page(session, school.code, limit, offset)
    return ProgressionPage(
        items=[ProgressionSummary.model_validate(r, from_attributes=True) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/progressions/{progression_id}",
    response_model=ProgressionRead,
    summary="A progression and each student's outcome",
    dependencies=[audited("read", "progression")],
)
async def read_progression(
    progression_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> ProgressionRead:
    visible = access.sees(Tier.SCHOOL, runtime.hosts)
    async with runtime.sessions() as session:
        row, items = await progression_in.get_progression(session, progression_id, visible)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return ProgressionRead(
        **{
            k: getattr(row, k) for k in ProgressionRead.model_fields if k not in ("counts", "items")
        },
        counts=counts,
        items=[_item(i) for i in items],
    )


def _item(row: Any) -> ProgressionItemRead:
    entry = i18n.entry(row.rule) if row.rule else None
    return ProgressionItemRead(
        named=row.named,
        outcome=row.outcome,
        rule=row.rule,
        message=row.reason,
        message_zh=entry.message if entry else None,
        article=row.article,
    )
