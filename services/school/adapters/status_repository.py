"""Every query of the school's status changes (学籍变动) and their proofs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, cast

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


async def suspension_ground(
    session: AsyncSession, school_code: str, student_number: str
) -> str | None:
    """The ground of the student's last applied suspension here (its ``facts``), or None."""
    found = await session.execute(
        select(status_change.c.facts)
        .where(
            status_change.c.school_code == school_code,
            status_change.c.student_number == student_number,
            status_change.c.status == "applied",
            status_change.c.change == "suspend",
        )
        .order_by(status_change.c.effective_on.desc(), status_change.c.submitted_at.desc())
        .limit(1)
    )
    facts = found.scalar_one_or_none()
    ground = facts.get("ground") if isinstance(facts, dict) else None
    return ground if isinstance(ground, str) else None


async def expired_suspensions(
    session: AsyncSession, school_code: str, today: date, *, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """Students still suspended whose suspension ended before ``today`` (set-based, on the
    roster index), longest over first, and how many there are."""
    conditions = (
        student.c.school_code == school_code,
        student.c.status == "suspended",
        student.c.suspended_until < today,
    )
    rows = await session.execute(
        select(
            student.c.student_number,
            student.c.name,
            student.c.grade,
            student.c.class_name,
            student.c.suspended_until,
        )
        .where(*conditions)
        .order_by(student.c.suspended_until, student.c.student_number)
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(select(func.count()).select_from(student).where(*conditions))
    return cast("list[Row[Any]]", list(rows.all())), int(total.scalar_one())


async def last_effective_on(session: AsyncSession, school: str, student_number: str) -> date | None:
    """When the student's latest applied change took effect (e.g. when they left)."""
    t = status_change
    return (
        await session.execute(
            select(t.c.effective_on)
            .where(
                t.c.school_code == school,
                t.c.student_number == student_number,
                t.c.status == "applied",
            )
            .order_by(t.c.effective_on.desc())
            .limit(1)
        )
    ).scalar()
