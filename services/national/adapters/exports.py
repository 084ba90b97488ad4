"""What national exports: the basic registry of a school, county, province or the country."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import Unit
from components.exports.source import ExportSource, prefix_range
from services.national.adapters.orm import RegistryEntry

FIELDS = (
    "student_number",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "school_code",
    "grade",
    "status",
    "enrolled_on",
)


async def _rows(session: AsyncSession, population: Unit, fields: Sequence[str]) -> Sequence[Any]:
    table = RegistryEntry.__table__
    query = select(*(table.c[name] for name in fields)).order_by(table.c.student_number)
    if population.kind != "national":
        query = query.where(prefix_range(table.c.school_code, population.code))
    return (await session.execute(query)).all()


def registry_source() -> ExportSource:
    """National keeps every student's basic info: any population is held here."""
    return ExportSource(kind="basic", fields=FIELDS, holds=lambda _unit: True, rows=_rows)
