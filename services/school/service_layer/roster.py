"""The roster (在籍学生名单): students whose registration was approved, and later arrivals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import departures, repository
from services.school.domain.students import DEPARTED_STATUSES
from shared.runtime.errors import NotFound


@dataclass(frozen=True)
class RosterPage:
    items: list[Row[Any]]
    total: int


async def list_roster(
    session: AsyncSession,
    school_code: str,
    *,
    grade: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
    class_name: str | None = None,
    search: str | None = None,
) -> RosterPage:
    rows, total = await repository.list_students(
        session,
        school_code,
        grade=grade,
        status=status,
        limit=limit,
        offset=offset,
        class_name=class_name,
        search=search,
    )
    return RosterPage(rows, total)


async def list_registrations(
    session: AsyncSession, school_code: str, *, status: str | None, limit: int, offset: int
) -> RosterPage:
    rows, total = await repository.list_registrations(
        session, school_code, status=status, limit=limit, offset=offset
    )
    return RosterPage(rows, total)


RULE_LEFT = "student_left_school"


async def get_student(session: AsyncSession, school_code: str, student_number: str) -> Row[Any]:
    """A student on the live roster. One who left for another school is not (decision 0043):
    404 ``student_left_school`` naming only where to and when, no personal data; the school
    keeps the province's read-only backup."""
    number = student_number.strip().upper()
    row = await repository.get_student(session, school_code, number)
    if row is None:
        raise NotFound(f"student {student_number} is not on the roster of school {school_code}")
    if row.status in DEPARTED_STATUSES:
        left = await departures.last_departure(session, school_code, number)
        where = f" to school {left.to_school} on {left.left_on.isoformat()}" if left else ""
        raise NotFound(
            f"student {number} left school {school_code}{where}; "
            "the read-only backup is kept by the province",
            rule=RULE_LEFT,
            article="N2013 art. 9",
        )
    return row


async def departed(
    session: AsyncSession, school_code: str, *, limit: int, offset: int
) -> RosterPage:
    """The school's history list: who left for another school, to where and when."""
    rows, total = await departures.history(session, school_code, limit=limit, offset=offset)
    return RosterPage(rows, total)
