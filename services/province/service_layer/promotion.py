"""Use case: the province's view of the August 10 batch promotion (升级, LS 3(一); N2013
art. 12). National sends each province one ``registry.province_promoted`` per school year:
per school the graduating grade and how many students moved up from each grade. The
province keeps it (one row per school and year) and serves it to its officers.

The archive's copy of a student's basic info keeps the grade as last recorded: the grade is
basic info, held by national (N2025 arts. 5, 23); the province does not know which of a
school's students are enrolled on August 10 (a suspended or absent student is not promoted),
so it records the year's promotion per school rather than guess per archive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import PromotionRecord
from shared.contracts.promotion import ProvincePromoted
from shared.runtime.errors import NotFound


async def record(session: AsyncSession, promoted: ProvincePromoted, now: datetime) -> None:
    codes = [s.school_code for s in promoted.schools]
    if not codes:
        return
    await session.execute(
        delete(PromotionRecord).where(
            PromotionRecord.school_year == promoted.school_year,
            PromotionRecord.school_code.in_(codes),
        )
    )
    await session.execute(
        insert(PromotionRecord),
        [
            {
                "school_year": promoted.school_year,
                "school_code": s.school_code,
                "province": promoted.province_code,
                "graduating_grade": s.graduating_grade,
                "promoted": {str(c.grade): c.count for c in s.promoted},
                "as_of": promoted.as_of,
                "received_at": now,
            }
            for s in promoted.schools
        ],
    )


async def read(session: AsyncSession, province: str, school_year: int) -> list[PromotionRecord]:
    rows = await session.execute(
        select(PromotionRecord)
        .where(PromotionRecord.province == province, PromotionRecord.school_year == school_year)
        .order_by(PromotionRecord.school_code)
    )
    found = list(rows.scalars())
    if not found:
        raise NotFound(
            f"no promotion of school year {school_year} recorded here", rule="no_promotion"
        )
    return found
