"""Every query of the school's status changes (学籍变动) and their proofs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import status_change, status_change_proof, student

SUBMITTED = "submitted"


async def insert_change(
    session: AsyncSession, row: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]]
) -> None:
    """Insert a change and its proof documents (one statement per table)."""
    await session.execute(insert(status_change), [dict(row)])
    if proofs:
        await session.execute(insert(status_change_proof), list(proofs))


async def has_open_change(session: AsyncSession, school_code: str, student_number: str) -> bool:
    found = await session.execute(
        select(status_change.c.change_id)
        .where(
            status_change.c.school_code == school_code,
            status_change.c.student_number == student_number,
            status_change.c.status == SUBMITTED,
        )
        .limit(1)
    )
    return found.first() is not None


async def get_change(session: AsyncSession, change_id: str) -> Row[Any] | None:
    found = await session.execute(
        select(status_change).where(status_change.c.change_id == change_id)
    )
    return found.one_or_none()


async def list_changes(
    session: AsyncSession,
    school_code: str,
    *,
    student_number: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """One page of a school's changes, newest first, and how many match in all."""
    conditions = [status_change.c.school_code == school_code]
    if student_number is not None:
        conditions.append(status_change.c.student_number == student_number)
    if status is not None:
        conditions.append(status_change.c.status == status)
    rows = await session.execute(
        select(status_change)
        .where(*conditions)
        .order_by(status_change.c.submitted_at.desc(), status_change.c.change_id)
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(
        select(func.count()).select_from(status_change).where(*conditions)
    )
    return list(rows.all()), int(total.scalar_one())


async def close_change(session: AsyncSession, change_id: str, values: Mapping[str, Any]) -> bool:
    """Decide a submitted change; False if it was decided already."""
    result = await session.execute(
        update(status_change)
        .where(status_change.c.change_id == change_id, status_change.c.status == SUBMITTED)
        .values(**values)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def proofs(session: AsyncSession, change_ids: Sequence[str]) -> list[Any]:
    """The proofs' descriptions (no content) of these changes, in order."""
    if not change_ids:
        return []
    rows = await session.execute(
        select(
            status_change_proof.c.change_id,
            status_change_proof.c.position,
            status_change_proof.c.kind,
            status_change_proof.c.filename,
            status_change_proof.c.size,
        )
        .where(status_change_proof.c.change_id.in_(change_ids))
        .order_by(status_change_proof.c.change_id, status_change_proof.c.position)
    )
    return list(rows.all())


async def proof(session: AsyncSession, change_id: str, position: int) -> Row[Any] | None:
    found = await session.execute(
        select(status_change_proof).where(
            status_change_proof.c.change_id == change_id,
            status_change_proof.c.position == position,
        )
    )
    return found.one_or_none()


async def set_roster_status(
    session: AsyncSession, school_code: str, student_number: str, values: Mapping[str, Any]
) -> None:
    await session.execute(
        update(student)
        .where(student.c.school_code == school_code, student.c.student_number == student_number)
        .values(**values)
    )
