"""The school's graduating lists (毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一)).

Thin: resolve the hosted school, call the use case, shape the answer. A refused line is
answered 422 in FastAPI's error shape (``loc`` = ``items.<n>.student_number``, ``type`` = the
rule); a refused list (dates) is ``{"detail", "rule"}``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.school.entrypoints.http import (
    ReaderOfSchool,
    RegistrarOfSchool,
    SchoolDep,
    TodayDep,
)
from services.school.service_layer import graduation
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.graduation import MAX_GRADUATION_BATCH, GraduationItem
from shared.runtime.app import RuntimeDep, UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["graduation"])


class GraduationListCreate(BaseModel):
    """The students leaving this July and what each certificate says (ZJ art. 25)."""

    model_config = ConfigDict(extra="forbid")

    graduation_year: int = Field(
        ge=2000, le=2999, description="the year the class leaves (by July 30)", examples=[2027]
    )
    items: list[GraduationItem] = Field(min_length=1, max_length=MAX_GRADUATION_BATCH)
    late_reason: str | None = Field(
        default=None,
        max_length=500,
        description="required after July 30 of graduation_year: why the list is late",
    )

    @model_validator(mode="after")
    def _distinct(self) -> GraduationListCreate:
        numbers = [item.student_number for item in self.items]
        if len(set(numbers)) != len(numbers):
            raise ValueError("a student number appears twice in the list")
        return self


class GraduationListAccepted(BaseModel):
    batch_id: uuid.UUID
    status: Literal["submitted"] = "submitted"


class GraduationLineRead(BaseModel):
    student_number: str
    outcome: str
    status: str = Field(description="pending | applied | refused (by national) | rejected")
    rule: str | None
    reason: str | None


class GraduationListRead(BaseModel):
    batch_id: uuid.UUID
    school_code: str
    graduation_year: int
    status: str = Field(description="submitted | approved | rejected")
    late_reason: str | None
    applied_count: int | None
    decided_by: str | None
    reason: str | None
    rule: str | None
    submitted_at: Timestamp
    decided_at: Timestamp | None
    items: list[GraduationLineRead]


@router.post(
    "/schools/{school_code}/graduations",
    status_code=202,
    response_model=GraduationListAccepted,
    summary="Send the school's graduating list to its authority (毕业)",
    dependencies=[audited("submit", "graduation_list", object_id=None), RegistrarOfSchool],
)
async def submit_graduation_list(
    school: SchoolDep,
    body: GraduationListCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    on: TodayDep,
) -> GraduationListAccepted:
    """One list per request, one message to the authority. Refused (422, ``type`` = rule) per
    line: ``not_on_roster``, ``graduation_is_final`` (never rolled back),
    ``student_transferred_out``, ``status_change_not_allowed``, ``not_graduating_grade``,
    ``graduation_pending``; for the list: ``graduation_deadline_passed`` (after July 30
    without ``late_reason``), ``graduation_year_not_open``."""
    batch_id = await graduation.submit_list(
        uow,
        school,
        body.graduation_year,
        body.items,
        body.late_reason,
        today=on,
        now=runtime.clock.now(),
    )
    return GraduationListAccepted(batch_id=batch_id)


class GraduationListLine(BaseModel):
    batch_id: uuid.UUID
    graduation_year: int
    status: str
    item_count: int
    applied_count: int | None
    late_reason: str | None
    reason: str | None
    rule: str | None
    submitted_at: Timestamp
    decided_at: Timestamp | None


@router.get(
    "/schools/{school_code}/graduations",
    response_model=list[GraduationListLine],
    summary="The school's graduating lists, newest first",
    dependencies=[audited("list", "graduation_list", object_id=None), ReaderOfSchool],
)
async def list_graduation_lists(
    school: SchoolDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[GraduationListLine]:
    async with runtime.sessions() as session:
        rows = await graduation.list_lists(session, school.code, limit)
    return [GraduationListLine.model_validate(row, from_attributes=True) for row in rows]


@router.get(
    "/schools/{school_code}/graduations/{batch_id}",
    response_model=GraduationListRead,
    summary="Where a graduating list stands, line by line",
    dependencies=[audited("read", "graduation_list"), ReaderOfSchool],
)
async def read_graduation_list(
    school: SchoolDep, batch_id: uuid.UUID, runtime: RuntimeDep
) -> GraduationListRead:
    async with runtime.sessions() as session:
        batch, items = await graduation.read_list(session, school.code, batch_id)
    return GraduationListRead(
        **{k: getattr(batch, k) for k in GraduationListRead.model_fields if k != "items"},
        items=[GraduationLineRead.model_validate(i, from_attributes=True) for i in items],
    )
