"""Every query of the receiving school's progressions (升学): set-based, whatever the cohort."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import progression_in, progression_in_item, student

_CHUNK = 500


async def add(
    session: AsyncSession, row: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> None:
    await session.execute(insert(progression_in), [dict(row)])
    if items:
        await session.execute(insert(progression_in_item), [dict(i) for i in items])


async def get(session: AsyncSession, progression_id: str) -> Row[Any] | None:
    found = await session.execute(
        select(progression_in).where(progression_in.c.progression_id == progression_id)
    )
    return found.first()


async def items(session: AsyncSession, progression_id: str) -> list[Row[Any]]:
    rows = await session.execute(
        select(progression_in_item)
        .where(progression_in_item.c.progression_id == progression_id)
        .order_by(progression_in_item.c.named)
    )
    return list(rows)


async def counts(session: AsyncSession, progression_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(progression_in_item.c.outcome, func.count())
        .where(progression_in_item.c.progression_id == progression_id)
        .group_by(progression_in_item.c.outcome)
    )
    return {outcome: int(n) for outcome, n in rows}


async def page(
    session: AsyncSession, school_code: str, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    where = progression_in.c.school_code == school_code
    rows = await session.execute(
        select(progression_in)
        .where(where)
        .order_by(progression_in.c.requested_at.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(progression_in).where(where))
    return list(rows), int(total or 0)


async def settle(session: AsyncSession, progression_id: str, values: Mapping[str, Any]) -> None:
    await session.execute(
        update(progression_in)
        .where(progression_in.c.progression_id == progression_id)
        .values(**values)
    )


_UPSERT_ITEM = (
    update(progression_in_item)
    .where(
        progression_in_item.c.progression_id == bindparam("k_progression_id"),
        progression_in_item.c.named == bindparam("k_named"),
    )
    .values(
        outcome=bindparam("v_outcome"),
        rule=bindparam("v_rule"),
        reason=bindparam("v_reason"),
        article=bindparam("v_article"),
    )
)


async def set_outcomes(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each named student's outcome (one ``executemany``); rows as :func:`add_items` takes."""
    if rows:
        params = [
            {"k_progression_id": r["progression_id"], "k_named": r["named"]}
            | {f"v_{k}": r[k] for k in ("outcome", "rule", "reason", "article")}
            for r in rows
        ]
        await session.execute(_UPSERT_ITEM, params)


async def add_items(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Students national named (a cohort chosen by year)."""
    if rows:
        await session.execute(insert(progression_in_item), [dict(r) for r in rows])


async def on_roster(session: AsyncSession, school_code: str, numbers: Sequence[str]) -> set[str]:
    """Which of these students already have an entry on this school's roster."""
    found: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        rows = await session.execute(
            select(student.c.student_number).where(
                student.c.school_code == school_code,
                student.c.student_number.in_(numbers[start : start + _CHUNK]),
            )
        )
        found |= set(rows.scalars())
    return found


async def reenrol(
    session: AsyncSession, school_code: str, numbers: Sequence[str], grade: int, at: datetime
) -> None:
    """Students who once left this school are enrolled again in ``grade``."""
    for start in range(0, len(numbers), _CHUNK):
        await session.execute(
            update(student)
            .where(
                student.c.school_code == school_code,
                student.c.student_number.in_(numbers[start : start + _CHUNK]),
            )
            .values(status="enrolled", grade=grade, class_name=None, updated_at=at)
        )


async def enrol_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """New roster entries (one ``executemany``)."""
    if rows:
        await session.execute(insert(student), [dict(r) for r in rows])
