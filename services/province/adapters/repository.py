"""Every query of the province's archive tables, scoped to one province (set-based)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveEntry, RegistrationOutcomeRecord
from services.province.domain.archive import ArchiveStatus


class ArchiveRepository:
    """The archives of one province, in the province service's database."""

    def __init__(self, session: AsyncSession, province: str) -> None:
        self.session = session
        self.province = province

    async def existing(self, archive_ids: Sequence[str]) -> set[str]:
        """Which of these registrations already have an archive here."""
        rows = await self.session.execute(
            select(Archive.archive_id).where(
                Archive.province == self.province, Archive.archive_id.in_(archive_ids)
            )
        )
        return set(rows.scalars())

    async def add_pending(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(Archive), list(rows))

    async def known_outcomes(self, registration_ids: Sequence[str]) -> set[str]:
        rows = await self.session.execute(
            select(RegistrationOutcomeRecord.registration_id).where(
                RegistrationOutcomeRecord.province == self.province,
                RegistrationOutcomeRecord.registration_id.in_(registration_ids),
            )
        )
        return set(rows.scalars())

    async def add_outcomes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(RegistrationOutcomeRecord), list(rows))

    async def pending_with_outcomes(self, archive_ids: Sequence[str]) -> list[Row[Any]]:
        """Pending archives among ``archive_ids`` whose final outcome is known."""
        outcome = RegistrationOutcomeRecord
        rows = await self.session.execute(
            select(
                Archive.archive_id,
                Archive.school_code,
                Archive.batch_id,
                Archive.basic,
                outcome.outcome,
                outcome.student_number,
                outcome.decided_by,
            )
            .join(outcome, outcome.registration_id == Archive.archive_id)
            .where(
                Archive.province == self.province,
                Archive.status == ArchiveStatus.PENDING,
                Archive.archive_id.in_(archive_ids),
            )
        )
        return list(rows.all())

    async def activate(self, numbers: Mapping[str, str], at: datetime) -> None:
        """Make pending archives active under their student numbers (archive id → number)."""
        if numbers:
            await self.session.execute(
                update(Archive),
                [
                    {
                        "archive_id": archive_id,
                        "student_number": number,
                        "status": ArchiveStatus.ACTIVE,
                        "activated_at": at,
                        "updated_at": at,
                    }
                    for archive_id, number in numbers.items()
                ],
            )

    async def delete(self, archive_ids: Sequence[str]) -> None:
        if archive_ids:
            await self.session.execute(
                delete(Archive).where(
                    Archive.province == self.province, Archive.archive_id.in_(archive_ids)
                )
            )

    async def add_entries(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            await self.session.execute(insert(ArchiveEntry), rows)

    async def active(self, student_number: str) -> Archive | None:
        """The active archive under ``student_number`` in this province."""
        return (
            await self.session.execute(
                select(Archive).where(
                    Archive.province == self.province,
                    Archive.student_number == student_number,
                    Archive.status == ArchiveStatus.ACTIVE,
                )
            )
        ).scalar_one_or_none()

    async def has_entry(self, archive_id: str, kind: str, reference: str) -> bool:
        found = await self.session.execute(
            select(ArchiveEntry.entry_id).where(
                ArchiveEntry.archive_id == archive_id,
                ArchiveEntry.kind == kind,
                ArchiveEntry.reference == reference,
            )
        )
        return found.first() is not None

    async def update_basic(
        self, archive_id: str, basic: Mapping[str, Any], student_number: str, at: datetime
    ) -> None:
        await self.session.execute(
            update(Archive)
            .where(Archive.province == self.province, Archive.archive_id == archive_id)
            .values(basic=dict(basic), student_number=student_number, updated_at=at)
        )

    async def entries(self, archive_id: str) -> list[ArchiveEntry]:
        rows = await self.session.execute(
            select(ArchiveEntry)
            .where(ArchiveEntry.archive_id == archive_id)
            .order_by(ArchiveEntry.occurred_on, ArchiveEntry.entry_id)
        )
        return list(rows.scalars())
