"""Every query of the province's status-change tables: migrant dropouts' archives due to
their hukou county, and the archives received for a hukou county (scoped to one province)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, DropoutHandover, HukouArchive
from services.province.domain.archive import DropoutHandoverState


class DropoutRepository:
    def __init__(self, session: AsyncSession, province: str) -> None:
        self.session = session
        self.province = province

    async def add(self, row: Mapping[str, Any]) -> None:
        found = await self.session.get(DropoutHandover, row["change_id"])
        if found is None:
            await self.session.execute(insert(DropoutHandover), [dict(row)])

    async def due(self, as_of: date, limit: int) -> list[DropoutHandover]:
        """Archives waiting whose term end is on or before ``as_of`` (the due index)."""
        rows = await self.session.execute(
            select(DropoutHandover)
            .where(
                DropoutHandover.province == self.province,
                DropoutHandover.state == DropoutHandoverState.WAITING,
                DropoutHandover.due_on <= as_of,
            )
            .order_by(DropoutHandover.due_on, DropoutHandover.change_id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def settle(self, change_id: str, state: str, sent_at: datetime | None) -> None:
        await self.session.execute(
            update(DropoutHandover)
            .where(
                DropoutHandover.province == self.province, DropoutHandover.change_id == change_id
            )
            .values(state=state, sent_at=sent_at)
        )

    async def archive(self, archive_id: str) -> Archive | None:
        found = await self.session.get(Archive, archive_id)
        return found if found is not None and found.province == self.province else None

    async def page(
        self, state: str | None, limit: int, offset: int
    ) -> tuple[list[DropoutHandover], int]:
        conditions = [DropoutHandover.province == self.province]
        if state is not None:
            conditions.append(DropoutHandover.state == state)
        rows = await self.session.execute(
            select(DropoutHandover)
            .where(*conditions)
            .order_by(DropoutHandover.due_on, DropoutHandover.change_id)
            .limit(limit)
            .offset(offset)
        )
        total = await self.session.execute(
            select(func.count()).select_from(DropoutHandover).where(*conditions)
        )
        return list(rows.scalars()), int(total.scalar_one())

    # -- the receiving side ----------------------------------------------------------------

    async def keep_hukou_archive(self, row: Mapping[str, Any]) -> None:
        found = await self.session.execute(
            select(HukouArchive.id).where(
                HukouArchive.province == self.province,
                HukouArchive.change_id == row["change_id"],
            )
        )
        if found.first() is None:
            await self.session.execute(insert(HukouArchive), [dict(row)])

    async def hukou_archives(
        self, county: str, limit: int, offset: int
    ) -> tuple[list[HukouArchive], int]:
        conditions = [HukouArchive.province == self.province, HukouArchive.county_code == county]
        rows = await self.session.execute(
            select(HukouArchive)
            .where(*conditions)
            .order_by(HukouArchive.received_at, HukouArchive.id)
            .limit(limit)
            .offset(offset)
        )
        total = await self.session.execute(
            select(func.count()).select_from(HukouArchive).where(*conditions)
        )
        return list(rows.scalars()), int(total.scalar_one())
