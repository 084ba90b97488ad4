"""A school merged into another or closed (N2013 art. 9; decision 0043), as its schools see it.

National's ``school.merged_applied`` (one per 2,000 students) tells both schools:
- the closing school records its closure (it takes no more registrations or transfers in:
  ``school_closed``) and its students leave its roster for its history list
  (``departures.leave``, kind ``school_merged``) in one ``INSERT … SELECT`` and one ``UPDATE``;
- the receiving school enrols the batch as a progression's cohort is enrolled (one
  ``executemany``; a student who once left it gets their entry back), each in the grade and
  status the registry holds.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import departures
from services.school.adapters import progression_repository as repo
from services.school.adapters.orm import closure
from services.school.domain.students import StudentStatus, normalise_id_number
from shared.clock import CHINA
from shared.contracts.merger import MERGER_ARTICLE, MergedStudent, SchoolMergedApplied
from shared.runtime.errors import DomainError

log = logging.getLogger(__name__)

CLOSED_RULE = "school_closed"


async def refuse_if_closed(session: AsyncSession, school_code: str) -> None:
    """422 ``school_closed`` for a school merged into another or closed (N2013 art. 9)."""
    row = (
        await session.execute(select(closure).where(closure.c.school_code == school_code))
    ).first()
    if row is not None:
        raise closed_refusal(school_code, row)


def closed_refusal(school_code: str, row: Any) -> DomainError:
    """The refusal of a school's closure row (its ``kind``, ``closed_on``, ``to_school``)."""
    return DomainError(
        f"school {school_code} was {row.kind} on {row.closed_on.isoformat()} "
        f"(its students went to {row.to_school}): no registrations or transfers in",
        rule=CLOSED_RULE,
        article=MERGER_ARTICLE,
    )


async def apply(
    session: AsyncSession, school_code: str, applied: SchoolMergedApplied, now: datetime
) -> None:
    if school_code == applied.from_school:
        await _close(session, applied, now)
    else:
        await _enrol(session, applied, now)


async def _close(session: AsyncSession, applied: SchoolMergedApplied, now: datetime) -> None:
    row = {
        "school_code": applied.from_school,
        "merger_id": str(applied.merger_id),
        "kind": applied.kind,
        "to_school": applied.to_school,
        "closed_on": applied.closed_on,
        "recorded_at": now,
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(closure).values(row).on_conflict_do_nothing())
    leaving = departures.Leaving(
        school_code=applied.from_school,
        student_numbers=[s.student_number for s in applied.moved],
        kind=departures.SCHOOL_MERGED,
        subject_id=str(applied.merger_id),
        to_school=applied.to_school,
        left_on=applied.applied_at.astimezone(CHINA).date(),
    )
    left = await departures.leave(session, leaving, StudentStatus.TRANSFERRED_OUT, now)
    log.info(
        "school %s closed (merger %s, batch %d/%d): %d students left for %s",
        applied.from_school,
        applied.merger_id,
        applied.batch,
        applied.batches,
        left,
        applied.to_school,
    )


async def _enrol(session: AsyncSession, applied: SchoolMergedApplied, now: datetime) -> None:
    school_code = applied.to_school
    numbers = [s.student_number for s in applied.moved]
    present = await repo.on_roster(session, school_code, numbers)
    await repo.enrol_many(
        session,
        [
            _roster_row(school_code, s, now)
            for s in applied.moved
            if s.student_number not in present
        ],
    )
    for s in applied.moved:  # students who once left this school: rare, one by one
        if s.student_number in present:
            await repo.reenrol(session, school_code, [s.student_number], s.basic.grade, now)
    log.info(
        "merger %s (batch %d/%d): %d students of %s enrolled at %s",
        applied.merger_id,
        applied.batch,
        applied.batches,
        len(numbers),
        applied.from_school,
        school_code,
    )


def _roster_row(school_code: str, s: MergedStudent, now: datetime) -> dict[str, Any]:
    basic = s.basic
    status = s.status if s.status in {x.value for x in StudentStatus} else "enrolled"
    return {
        "school_code": school_code,
        "student_number": s.student_number,
        "registration_id": None,
        "name": basic.name,
        "gender": basic.gender,
        "birth_date": basic.birth_date,
        "id_type": basic.id_type.value,
        "id_number": normalise_id_number(basic.id_number),
        "nationality": basic.nationality,
        "ethnicity": basic.ethnicity,
        "grade": basic.grade,
        "enrolled_on": basic.enrolled_on,
        "status": status,
        "class_name": None,
        "created_at": now,
        "updated_at": now,
    }
