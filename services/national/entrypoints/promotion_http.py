"""The operator's yearly batch promotion (升级, LS 3(一); N2013 art. 12): run it, read a run.

Thin: validate, call the service layer in one unit of work, map the report. ``as_of``
defaults to the runtime's Beijing "today" (``runtime.clock``), like the deadline sweep, so
that operators and tests drive time.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from services.national.service_layer.promotion import (
    PromotionReport,
    preview_promotion,
    run_promotion,
    stored_report,
)
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
from shared.security.authz import NATIONAL_UNIT, Reach, requires
from shared.security.principal import Role

promotion_router = APIRouter(
    prefix="/api/v1/operations/promotions",
    tags=["operations"],
    dependencies=[requires(Role.OPERATOR, unit=NATIONAL_UNIT, reach=Reach.OWN)],
)

SchoolYear = Annotated[int, Path(ge=2000, le=2999, examples=[2026])]


class PromotionCreate(BaseModel):
    school_year: int = Field(
        ge=2000, le=2999, description="the school year that starts in September", examples=[2026]
    )
    as_of: date | None = Field(
        default=None, description="the day of the run, on or after August 10; default: today"
    )


class GradeRead(BaseModel):
    grade: int = Field(description="the grade before the promotion")
    to_grade: int
    count: int


class SchoolCountRead(BaseModel):
    school_code: str
    count: int
    stage: str | None = None


class HeldStudentRead(BaseModel):
    """Promoted while a transfer held them; the transfer's grade moved with them."""

    student_number: str
    school_code: str
    from_grade: int
    to_grade: int
    transfer_id: str
    to_school: str
    fits_receiving_school: bool = Field(
        description="the receiving school's stage teaches the new grade; if not, the "
        "authorities decide what becomes of the transfer"
    )


class SkippedRead(BaseModel):
    graduating: list[SchoolCountRead] = Field(
        description="enrolled students still in their school's graduating grade (graduation "
        "is due by July 30): not promoted"
    )
    not_in_batch: list[SchoolCountRead] = Field(
        description="enrolled students of schools the batch does not cover (special-education "
        "schools, schools the federation config does not know): not promoted"
    )


class PromotionRead(BaseModel):
    school_year: int
    as_of: date
    ran: bool = Field(description="false: the year's promotion had run already; nothing done")
    detail: str
    ran_at: Timestamp
    duration_s: float
    promoted: int
    by_grade: list[GradeRead]
    skipped: SkippedRead
    in_transfer: list[HeldStudentRead]
    schools: int = Field(description="schools in the batch")
    messages: int = Field(description="registry.promoted messages staged, one per school")
    province_messages: int = Field(
        0, description="registry.province_promoted messages staged, one per province"
    )

    @classmethod
    def of(cls, report: PromotionReport) -> PromotionRead:
        when = report.ran_at.isoformat(timespec="seconds")
        detail = (
            f"promoted {report.promoted} students"
            if report.ran
            else f"the promotion of school year {report.school_year} already ran at {when}; "
            "nothing was done"
        )
        return cls(
            school_year=report.school_year,
            as_of=report.as_of,
            ran=report.ran,
            detail=detail,
            ran_at=report.ran_at,
            duration_s=report.duration_s,
            promoted=report.promoted,
            by_grade=[
                GradeRead(grade=g, to_grade=g + 1, count=n) for g, n in report.by_grade.items()
            ],
            skipped=SkippedRead(
                graduating=[SchoolCountRead(**vars(c)) for c in report.graduating],
                not_in_batch=[SchoolCountRead(**vars(c)) for c in report.not_in_batch],
            ),
            in_transfer=[
                HeldStudentRead(**vars(h), to_grade=h.from_grade + 1) for h in report.in_transfer
            ],
            schools=report.schools,
            messages=report.messages,
            province_messages=report.province_messages,
        )


@promotion_router.post(
    "",
    dependencies=[audited("promote", "registry")],
    response_model=PromotionRead,
    summary="Run the August 10 batch promotion of a school year",
)
async def run(body: PromotionCreate, runtime: RuntimeDep, uow: UnitOfWorkDep) -> PromotionRead:
    """Move every enrolled student below their school's graduating grade up one grade, in
    one transaction, and tell each school once (``registry.promoted``). Idempotent per school
    year: a second call does nothing and answers the first run's report with ``ran: false``."""
    as_of = body.as_of or runtime.clock.today()
    report = await run_promotion(
        uow.session, runtime.federation, body.school_year, as_of, runtime.clock.now()
    )
    return PromotionRead.of(report)


@promotion_router.get(
    "/{school_year}",
    dependencies=[audited("read", "promotion")],
    response_model=PromotionRead,
    summary="The report of a year's promotion",
)
async def read(school_year: SchoolYear, runtime: RuntimeDep) -> PromotionRead:
    async with runtime.sessions() as session:
        report = await stored_report(session, school_year)
    if report is None:
        raise NotFound(
            f"the promotion of school year {school_year} has not run", rule="no_promotion"
        )
    return PromotionRead.of(report)


class PromotionPreviewRead(BaseModel):
    """What a run would do now; nothing is changed (the confirmation step before the run)."""

    school_year: int
    as_of: date
    already_ran: bool = Field(
        description="the year's promotion ran already: the figures are that run's report"
    )
    promoted: int = Field(description="students the run would move up one grade")
    by_grade: list[GradeRead]
    skipped: SkippedRead
    in_transfer: list[HeldStudentRead]
    schools: int = Field(description="schools in the batch")

    @classmethod
    def of(cls, report: PromotionReport, already_ran: bool) -> PromotionPreviewRead:
        read = PromotionRead.of(report)
        return cls(
            school_year=report.school_year,
            as_of=report.as_of,
            already_ran=already_ran,
            promoted=read.promoted,
            by_grade=read.by_grade,
            skipped=read.skipped,
            in_transfer=read.in_transfer,
            schools=read.schools,
        )


@promotion_router.get(
    "/{school_year}/preview",
    dependencies=[audited("preview", "promotion")],
    response_model=PromotionPreviewRead,
    summary="What the year's promotion would do now, changing nothing",
)
async def preview(
    school_year: SchoolYear,
    runtime: RuntimeDep,
    as_of: Annotated[date | None, Query(description="the day of the run; default: today")] = None,
) -> PromotionPreviewRead:
    """The counts the run would report (students moved up by grade, those left in their
    graduating grade or out of the batch, those held by a transfer), read without a lock:
    the run counts again under its lock. The same date refusals as the run (422
    ``school_year_mismatch``, ``before_promotion_day``)."""
    async with runtime.sessions() as session:
        report, already_ran = await preview_promotion(
            session,
            runtime.federation,
            school_year,
            as_of or runtime.clock.today(),
            runtime.clock.now(),
        )
    return PromotionPreviewRead.of(report, already_ran)
