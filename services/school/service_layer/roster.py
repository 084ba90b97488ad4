"""The roster (在籍学生名单): students whose registration was approved, and later arrivals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
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


async def get_student(session: AsyncSession, school_code: str, student_number: str) -> Row[Any]:
    row = await repository.get_student(session, school_code, student_number.strip().upper())
    if row is None:
        raise NotFound(f"student {student_number} is not on the roster of school {school_code}")
    return row
