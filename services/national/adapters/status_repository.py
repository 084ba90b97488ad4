"""Every query of national's status changes: the change log, current suspensions, the
high-school repeat cap and the suspension sweep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import (
    Placement,
    RegistryEntry,
    StatusChangeRecord,
    Suspension,
)

APPLIED = "applied"
# Whom a grade's size counts for the repeat cap: students holding the school's registration
# in that grade and attending or about to (suspended students come back to it).
_IN_GRADE = ("enrolled", "suspended")


@dataclass(frozen=True)
class LapseCoverage:
    """The schools a rule covers, by code prefix: a province (``51``) or a prefecture's scope
    (``5134``, decision 0034), less the scopes below that turn it off."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def clause(self) -> ColumnElement[bool]:
        covered = or_(*(Suspension.school_code.startswith(p) for p in self.include))
        if not self.exclude:
            return covered
        turned_off = or_(*(Suspension.school_code.startswith(p) for p in self.exclude))
        return and_(covered, not_(turned_off))


class StatusRepository:
    """Status changes in the national database."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, change_id: str) -> StatusChangeRecord | None:
        return await self.session.get(StatusChangeRecord, change_id)

    async def add_record(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(insert(StatusChangeRecord), [dict(row)])

    async def set_status(
        self, entry_id: str, before: tuple[str, int], after: tuple[str, int], now: datetime
    ) -> bool:
        """Move the entry from ``before`` to ``after`` (status, grade); False when it is no
        longer ``before`` (another change or the promotion got there first)."""
        result = await self.session.execute(
            update(RegistryEntry)
            .where(
                RegistryEntry.entry_id == entry_id,
                RegistryEntry.status == before[0],
                RegistryEntry.grade == before[1],
            )
            .values(status=after[0], grade=after[1], updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    # -- suspensions ------------------------------------------------------------------------

    async def suspension(self, entry_id: str) -> Suspension | None:
        return await self.session.get(Suspension, entry_id)

    async def start_suspension(self, row: Mapping[str, Any]) -> None:
        await self.end_suspension(str(row["entry_id"]))
        await self.session.execute(insert(Suspension), [dict(row)])

    async def extend_suspension(self, entry_id: str, until: date) -> None:
        await self.session.execute(
            update(Suspension)
            .where(Suspension.entry_id == entry_id)
            .values(until=until, extensions=Suspension.extensions + 1)
        )

    async def place(self, row: Mapping[str, Any]) -> None:
        """Record where the student attends while registered here (one placement at a time)."""
        await self.end_placement(str(row["entry_id"]))
        await self.session.execute(insert(Placement), [dict(row)])

    async def end_placement(self, entry_id: str) -> None:
        await self.session.execute(delete(Placement).where(Placement.entry_id == entry_id))

    async def placed_at(self, entry_id: str) -> str | None:
        found = await self.session.scalar(
            select(Placement.attending_school).where(Placement.entry_id == entry_id)
        )
        return str(found) if found is not None else None

    async def end_suspension(self, entry_id: str) -> None:
        await self.session.execute(delete(Suspension).where(Suspension.entry_id == entry_id))

    async def lapsed(self, as_of: date, where: LapseCoverage, limit: int) -> list[Any]:
        """Suspensions over before ``as_of`` at schools ``where`` covers, with their students
        (oldest first, at most ``limit``): read through the index on ``until``."""
        if not where.include:
            return []
        rows = await self.session.execute(
            select(Suspension, RegistryEntry)
            .join(RegistryEntry, RegistryEntry.entry_id == Suspension.entry_id)
            .where(Suspension.until < as_of, where.clause())
            .order_by(Suspension.until, Suspension.entry_id)
            .limit(limit)
        )
        return list(rows.all())

    async def count_lapsed(self, as_of: date, excluding: LapseCoverage) -> int:
        """Suspensions over before ``as_of`` outside ``excluding`` (left to their schools)."""
        query = select(func.count()).select_from(Suspension).where(Suspension.until < as_of)
        if excluding.include:
            query = query.where(not_(excluding.clause()))
        return int((await self.session.execute(query)).scalar_one())

    # -- the high-school repeat cap (LS 2(三)) -----------------------------------------------

    async def grade_size(self, school_code: str, grade: int) -> int:
        query = (
            select(func.count())
            .select_from(RegistryEntry)
            .where(
                RegistryEntry.school_code == school_code,
                RegistryEntry.grade == grade,
                RegistryEntry.status.in_(_IN_GRADE),
            )
        )
        return int((await self.session.execute(query)).scalar_one())

    async def repeats(self, school_code: str, grade: int, since: date) -> int:
        """Repeats applied at the school from ``grade`` with effect after ``since``."""
        query = (
            select(func.count())
            .select_from(StatusChangeRecord)
            .where(
                StatusChangeRecord.school_code == school_code,
                StatusChangeRecord.change == "repeat_grade",
                StatusChangeRecord.outcome == APPLIED,
                StatusChangeRecord.from_grade == grade,
                StatusChangeRecord.effective_on > since,
            )
        )
        return int((await self.session.execute(query)).scalar_one())
