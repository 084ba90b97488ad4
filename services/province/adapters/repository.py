"""Every query of the province's archive tables, scoped to one province (set-based).

The statements a transfer runs (the archive's move, hand-over, backup and receipt) are built
once, at import, with named bind parameters and executed with a parameter dict: building a
statement and computing its cache key cost more CPU than running it (decision 0019). The
rarely run ones stay inline. Statements that return archives or hand-overs select the ORM
entities; the writes are Core statements on the tables, and a Core UPDATE leaves the
session's copy of the row alone, so :func:`_written` gives it the values written, as the ORM
UPDATE it replaces did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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

_ARCHIVE: Table = Archive.__table__  # type: ignore[assignment]
_ENTRY: Table = ArchiveEntry.__table__  # type: ignore[assignment]
_BACKUP: Table = ArchiveBackup.__table__  # type: ignore[assignment]
_HANDOVER: Table = ArchiveHandover.__table__  # type: ignore[assignment]

# Built once (decision 0019). An UPDATE's WHERE parameters are prefixed with ``k_``:
# SQLAlchemy reserves the column names for the SET clause.
_ACTIVE = select(Archive).where(
    Archive.province == bindparam("province"),
    Archive.student_number == bindparam("student_number"),
    Archive.status == ArchiveStatus.ACTIVE,
)
_BY_NUMBER = select(Archive).where(
    Archive.province == bindparam("province"),
    Archive.student_number == bindparam("student_number"),
)
_HAS_ENTRY = select(_ENTRY.c.entry_id).where(
    _ENTRY.c.archive_id == bindparam("archive_id"),
    _ENTRY.c.kind == bindparam("kind"),
    _ENTRY.c.reference == bindparam("reference"),
)
_ENTRIES = (
    select(ArchiveEntry)
    .where(ArchiveEntry.archive_id == bindparam("archive_id"))
    .order_by(ArchiveEntry.occurred_on, ArchiveEntry.entry_id)
)
# ORM bulk INSERT, as before: it groups rows by the keys they have.
_ADD_ENTRIES = insert(ArchiveEntry)
_ADD_ARCHIVE = insert(_ARCHIVE)
# No SET clause of its own: the columns set are the other keys of the parameter dict.
_UPDATE_ARCHIVE = update(_ARCHIVE).where(
    _ARCHIVE.c.province == bindparam("k_province"),
    _ARCHIVE.c.archive_id == bindparam("k_archive_id"),
)
_BACKUP_TAKEN = select(_BACKUP.c.backup_id).where(
    _BACKUP.c.school_code == bindparam("school_code"),
    _BACKUP.c.transfer_id == bindparam("transfer_id"),
)
_ADD_BACKUP = insert(_BACKUP)
_HANDOVER_OF = select(ArchiveHandover).where(
    ArchiveHandover.province == bindparam("province"),
    ArchiveHandover.transfer_id == bindparam("transfer_id"),
)
_ADD_HANDOVER = insert(_HANDOVER)
_MARK_RECEIVED = (
    update(_HANDOVER)
    .where(
        _HANDOVER.c.province == bindparam("k_province"),
        _HANDOVER.c.transfer_id == bindparam("k_transfer_id"),
        _HANDOVER.c.state != HandoverState.RECEIVED,
    )
    .values(state=HandoverState.RECEIVED, received_at=bindparam("v_received_at"))
)


def _written(session: AsyncSession, entity: type[Any], key: str, values: Mapping[str, Any]) -> None:
    """Give the session's copy of the row ``key`` (if it holds one) the values an UPDATE just
    wrote, as committed: the ORM UPDATE these Core ones replace kept it in step, so an
    archive or hand-over read earlier in the transaction never shows what was overwritten."""
    held = session.sync_session.identity_map.get(identity_key(entity, key))
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)


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
            await self.session.execute(_ADD_ENTRIES, rows)

    async def active(self, student_number: str) -> Archive | None:
        """The active archive under ``student_number`` in this province."""
        params = {"province": self.province, "student_number": student_number}
        return (await self.session.execute(_ACTIVE, params)).scalar_one_or_none()

    async def has_entry(self, archive_id: str, kind: str, reference: str) -> bool:
        params = {"archive_id": archive_id, "kind": kind, "reference": reference}
        found = await self.session.execute(_HAS_ENTRY, params)
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
        rows = await self.session.execute(_ENTRIES, {"archive_id": archive_id})
        return list(rows.scalars())

    # --- transfers ---------------------------------------------------------------------

    async def by_number(self, student_number: str) -> Archive | None:
        """The archive under ``student_number`` here, whatever its status."""
        params = {"province": self.province, "student_number": student_number}
        return (await self.session.execute(_BY_NUMBER, params)).scalar_one_or_none()

    async def discipline_entries(self, archive_id: str) -> list[ArchiveEntry]:
        rows = await self.session.execute(
            select(ArchiveEntry).where(
                ArchiveEntry.archive_id == archive_id,
                ArchiveEntry.section == Section.DISCIPLINE,
            )
        )
        return list(rows.scalars())

    async def add(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(_ADD_ARCHIVE, dict(row))

    async def update(self, archive_id: str, values: Mapping[str, Any]) -> None:
        params = {"k_province": self.province, "k_archive_id": archive_id, **values}
        result = await self.session.execute(_UPDATE_ARCHIVE, params)
        if _rowcount(result):
            _written(self.session, Archive, archive_id, values)

    async def delete_entries(self, archive_id: str) -> None:
        await self.session.execute(
            delete(ArchiveEntry).where(ArchiveEntry.archive_id == archive_id)
        )

    async def add_backup(self, row: Mapping[str, Any]) -> None:
        """Keep a sending school's backup, once per transfer."""
        params = {"school_code": row["school_code"], "transfer_id": row["transfer_id"]}
        found = await self.session.execute(_BACKUP_TAKEN, params)
        if found.first() is None:
            await self.session.execute(_ADD_BACKUP, dict(row))

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
        params = {"province": self.province, "transfer_id": transfer_id}
        return (await self.session.execute(_HANDOVER_OF, params)).scalar_one_or_none()

    async def add(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(_ADD_HANDOVER, dict(row))

    async def mark_received(self, transfer_id: str, at: datetime) -> bool:
        params = {"k_province": self.province, "k_transfer_id": transfer_id, "v_received_at": at}
        result = await self.session.execute(_MARK_RECEIVED, params)
        if _rowcount(result) != 1:
            return False
        _written(
            self.session,
            ArchiveHandover,
            transfer_id,
            {"state": HandoverState.RECEIVED, "received_at": at},
        )
        return True

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


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
