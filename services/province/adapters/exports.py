"""What the province exports: the extended info of its archives (非基础学籍信息).

One query over ``archive`` (the province's active archives whose school code starts with the
population's code); the guardians are flattened to ``name (relation) phone; …``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import Unit
from components.exports.source import ExportSource, prefix_range
from services.province.adapters.orm import Archive
from services.province.domain.archive import ArchiveStatus
from shared.runtime.service import ServiceRuntime

FIELDS = (
    "student_number",
    "school_code",
    "name",
    "guardians",
    "address",
    "hukou_region",
    "phone",
    "health_notes",
    "migrant",
    "home_instruction",
)


def _guardians(value: Any) -> str:
    parts = []
    for guardian in value or ():
        phone = f" {guardian['phone']}" if guardian.get("phone") else ""
        parts.append(f"{guardian.get('name', '')} ({guardian.get('relation', '')}){phone}")
    return "; ".join(parts)


def _value(archive: Any, name: str) -> Any:
    if name in ("student_number", "school_code"):
        return getattr(archive, name)
    if name == "name":
        return archive.basic.get("name")
    if name == "guardians":
        return _guardians(archive.extended.get("guardians"))
    return archive.extended.get(name)


async def _rows(session: AsyncSession, population: Unit, fields: Sequence[str]) -> Sequence[Any]:
    query = (
        select(Archive.student_number, Archive.school_code, Archive.basic, Archive.extended)
        .where(
            Archive.province == population.code[:2],
            Archive.status == ArchiveStatus.ACTIVE,
            prefix_range(Archive.school_code, population.code),
        )
        .order_by(Archive.student_number)
    )
    archives = (await session.execute(query)).all()
    return [[_value(archive, name) for name in fields] for archive in archives]


def archive_source(runtime: ServiceRuntime) -> ExportSource:
    """The hosted provinces' archives: the province itself or any county or school in it."""
    return ExportSource(
        kind="extended",
        fields=FIELDS,
        holds=lambda unit: unit.kind != "national" and runtime.hosts(unit.code[:2]),
        rows=_rows,
    )
