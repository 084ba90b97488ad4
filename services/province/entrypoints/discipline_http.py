"""Discipline records in the archive, as a school records and lifts them (处分 / 解除处分,
ZJ arts. 22-23). Thin: resolve the school, call the use case, shape the answer; refusals are
``{"detail", "rule"}`` (404, 409, 422)."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.province.domain.discipline import NORMAL_TERM_MONTHS, DisciplineKind
from services.province.entrypoints.http import ArchiveOfSchool, hosted_school
from services.province.service_layer import discipline
from shared.audit.recording import audited
from shared.federation.config import Tier
from shared.runtime.app import UnitOfWorkDep
from shared.runtime.service import ServiceRuntime
from shared.security.authz import PathUnit, Reach, requires
from shared.security.principal import Role

_PATH = "/{school_code}/archives/{student_number}/discipline-records"
# The school's registrar records and lifts (ZJ art. 23: the school decides); its staff and the
# levels above read; national never (non-basic data).
RegistrarOfSchool = requires(
    Role.REGISTRAR,
    unit=PathUnit("school_code", Tier.SCHOOL),
    reach=Reach.OWN,
    barred=[Tier.NATIONAL],
)


class DisciplineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: DisciplineKind = Field(
        description="warning 警告 | serious_warning 严重警告 | demerit 记过"
    )
    reason: str = Field(min_length=1, max_length=500, description="the school's decision")
    imposed_on: date
    term_months: int = Field(default=NORMAL_TERM_MONTHS, ge=1, le=24)
    shortened_reason: str | None = Field(
        default=None, max_length=500, description="required for a term under six months"
    )


class LiftingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lifted_on: date | None = Field(default=None, description="default: today")


class DisciplineRead(BaseModel):
    record_id: uuid.UUID
    kind: str
    reason: str
    imposed_on: date
    term_months: int
    term_ends_on: date
    shortened_reason: str | None
    lifted_on: date | None
    in_force: bool = Field(description="imposed and not lifted as of today")

    @classmethod
    def of(cls, record: discipline.DisciplineRecord, today: date) -> DisciplineRead:
        return cls(**vars(record), in_force=record.in_force(today))


def build_discipline_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/schools", tags=["discipline"])

    @router.post(
        _PATH,
        status_code=201,
        response_model=DisciplineRead,
        summary="Record a discipline decision in a student's archive (处分)",
        dependencies=[
            audited("record", "discipline", object_id="student_number"),
            RegistrarOfSchool,
        ],
    )
    async def record(
        school_code: str, student_number: str, body: DisciplineCreate, uow: UnitOfWorkDep
    ) -> DisciplineRead:
        """Refused: ``discipline_in_future``, ``discipline_term_too_long`` (over six months),
        ``discipline_shortened_without_reason`` (ZJ art. 23); 404 ``archive_not_found``."""
        school = hosted_school(runtime, school_code)
        imposed = discipline.Imposed(
            body.kind, body.reason, body.imposed_on, body.term_months, body.shortened_reason
        )
        today = runtime.clock.today()
        done = await discipline.record(
            uow.session,
            school.province,
            school.code,
            student_number,
            imposed,
            today,
            runtime.clock.now(),
        )
        return DisciplineRead.of(done, today)

    @router.get(
        _PATH,
        response_model=list[DisciplineRead],
        summary="A student's discipline records",
        dependencies=[
            audited("list", "discipline", object_id="student_number"),
            ArchiveOfSchool,
        ],
    )
    async def list_records(school_code: str, student_number: str) -> list[DisciplineRead]:
        """Every record still in the archive (all are removed at graduation, ZJ art. 23)."""
        school = hosted_school(runtime, school_code)
        today = runtime.clock.today()
        records = await discipline.list_records(
            runtime.sessions, school.province, school.code, student_number
        )
        return [DisciplineRead.of(r, today) for r in records]

    @router.post(
        _PATH + "/{record_id}/lifting",
        response_model=DisciplineRead,
        summary="Lift a discipline record whose term is served (解除处分)",
        dependencies=[audited("lift", "discipline"), RegistrarOfSchool],
    )
    async def lift(
        school_code: str,
        student_number: str,
        record_id: uuid.UUID,
        body: LiftingCreate,
        uow: UnitOfWorkDep,
    ) -> DisciplineRead:
        """Refused: ``discipline_term_not_served`` (422), ``discipline_already_lifted`` (409);
        404 ``discipline_record_not_found``."""
        school = hosted_school(runtime, school_code)
        today = runtime.clock.today()
        done = await discipline.lift(
            uow.session,
            school.province,
            school.code,
            student_number,
            record_id,
            body.lifted_on or today,
            runtime.clock.now(),
        )
        return DisciplineRead.of(done, today)

    return router
