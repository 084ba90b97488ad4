"""What the school exports: its roster's basic info (``school_student``), one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import Unit
from components.exports.source import ExportSource
from services.school.adapters.orm import student
from shared.runtime.service import ServiceRuntime

FIELDS = (
    "student_number",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "grade",
    "class_name",
    "status",
    "enrolled_on",
)


async def _rows(session: AsyncSession, population: Unit, fields: Sequence[str]) -> Sequence[Any]:
    query = (
        select(*(student.c[name] for name in fields))
        .where(student.c.school_code == population.code)
        .order_by(student.c.student_number)
    )
    return (await session.execute(query)).all()


def roster_source(runtime: ServiceRuntime) -> ExportSource:
    """A hosted school's roster; nothing of a school this instance does not host."""
    return ExportSource(
        kind="basic",
        fields=FIELDS,
        holds=lambda unit: unit.kind == "school" and runtime.hosts(unit.code),
        rows=_rows,
    )
