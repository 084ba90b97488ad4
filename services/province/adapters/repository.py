"""Every query of the province's archive tables, scoped to one province (set-based)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import (
    Archive,
    ArchiveBackup,
    ArchiveEntry,
    ArchiveHandover,
    RegistrationOutcomeRecord,
)
from services.province.domain.archive import (
    OPEN_HANDOVER_STATES,
    ArchiveStatus,
    HandoverState,
    Section,
)


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

    # --- transfers ---------------------------------------------------------------------

    async def by_number(self, student_number: str) -> Archive | None:
        """The archive under ``student_number`` here, whatever its status."""
        return (
            await self.session.execute(
                select(Archive).where(
                    Archive.province == self.province, Archive.student_number == student_number
                )
            )
        ).scalar_one_or_none()

    async def discipline_entries(self, archive_id: str) -> list[ArchiveEntry]:
        rows = await self.session.execute(
            select(ArchiveEntry).where(
                ArchiveEntry.archive_id == archive_id,
                ArchiveEntry.section == Section.DISCIPLINE,
            )
        )
        return list(rows.scalars())

    async def add(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(insert(Archive).values(**row))

    async def update(self, archive_id: str, values: Mapping[str, Any]) -> None:
        await self.session.execute(
            update(Archive)
            .where(Archive.province == self.province, Archive.archive_id == archive_id)
            .values(**values)
        )

    async def delete_entries(self, archive_id: str) -> None:
        await self.session.execute(
            delete(ArchiveEntry).where(ArchiveEntry.archive_id == archive_id)
        )

    async def add_backup(self, row: Mapping[str, Any]) -> None:
        """Keep a sending school's backup, once per transfer."""
        found = await self.session.execute(
            select(ArchiveBackup.backup_id).where(
                ArchiveBackup.school_code == row["school_code"],
                ArchiveBackup.transfer_id == row["transfer_id"],
            )
        )
        if found.first() is None:
            await self.session.execute(insert(ArchiveBackup).values(**row))

    async def latest_backup(self, school_code: str, student_number: str) -> ArchiveBackup | None:
        """The newest backup a school keeps of a student's archive."""
        rows = await self.session.execute(
            select(ArchiveBackup)
            .where(
                ArchiveBackup.province == self.province,
                ArchiveBackup.school_code == school_code,
                ArchiveBackup.student_number == student_number,
            )
            .order_by(ArchiveBackup.taken_at.desc(), ArchiveBackup.backup_id.desc())
            .limit(1)
        )
        return rows.scalar_one_or_none()


class HandoverRepository:
    """The archives one province hands to other provinces, until each is received."""

    def __init__(self, session: AsyncSession, province: str) -> None:
        self.session = session
        self.province = province

    async def get(self, transfer_id: str) -> ArchiveHandover | None:
        return (
            await self.session.execute(
                select(ArchiveHandover).where(
                    ArchiveHandover.province == self.province,
                    ArchiveHandover.transfer_id == transfer_id,
                )
            )
        ).scalar_one_or_none()

    async def add(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(insert(ArchiveHandover).values(**row))

    async def mark_received(self, transfer_id: str, at: datetime) -> bool:
        result = await self.session.execute(
            update(ArchiveHandover)
            .where(
                ArchiveHandover.province == self.province,
                ArchiveHandover.transfer_id == transfer_id,
                ArchiveHandover.state != HandoverState.RECEIVED,
            )
            .values(state=HandoverState.RECEIVED, received_at=at)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def page(
        self, *, states: Sequence[str] | None, overdue_on: date | None, limit: int, offset: int
    ) -> tuple[list[ArchiveHandover], int]:
        """Hand-overs by due date (earliest first); ``overdue_on`` keeps the late open ones."""
        conditions = [ArchiveHandover.province == self.province]
        if states is not None:
            conditions.append(ArchiveHandover.state.in_(states))
        if overdue_on is not None:
            conditions.append(ArchiveHandover.state.in_(OPEN_HANDOVER_STATES))
            conditions.append(ArchiveHandover.due_on < overdue_on)
        where = and_(*conditions)
        total = await self.session.execute(
            select(func.count()).select_from(ArchiveHandover).where(where)
        )
        rows = await self.session.execute(
            select(ArchiveHandover)
            .where(where)
            .order_by(ArchiveHandover.due_on, ArchiveHandover.transfer_id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.scalars()), int(total.scalar_one())
