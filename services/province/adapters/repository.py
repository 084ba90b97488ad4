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

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
# Core: one executemany for rows with the same keys, a None among them splits nothing.
_ADD_ENTRY_ROWS = insert(_ENTRY)
_ADD_ARCHIVE = insert(_ARCHIVE)
# No SET clause of its own: the columns set are the other keys of the parameter dict.
_UPDATE_ARCHIVE = update(_ARCHIVE).where(
    _ARCHIVE.c.province == bindparam("k_province"),
    _ARCHIVE.c.archive_id == bindparam("k_archive_id"),
)
# A sending school keeps one backup per transfer (``uq_archive_backup_transfer``): a copy
# already kept is left as it is, without a look-up first.
_ADD_BACKUPS_ONCE = {
    name: dialect_insert(_BACKUP).on_conflict_do_nothing()
    for name, dialect_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_ADD_HANDOVER = insert(_HANDOVER)
# A transfer message is applied in a run of its kind (one delivery batch) at once: ``IN``
# lists for the reads, ``executemany`` for the writes, whatever the run's length.
_ACTIVE_OF = select(Archive).where(
    Archive.province == bindparam("province"),
    Archive.student_number.in_(bindparam("student_numbers", expanding=True)),
    Archive.status == ArchiveStatus.ACTIVE,
)
_BY_NUMBERS = select(Archive).where(
    Archive.province == bindparam("province"),
    Archive.student_number.in_(bindparam("student_numbers", expanding=True)),
)
_REFERENCED = select(_ENTRY.c.archive_id, _ENTRY.c.reference).where(
    _ENTRY.c.archive_id.in_(bindparam("archive_ids", expanding=True)),
    _ENTRY.c.kind == bindparam("kind"),
    _ENTRY.c.reference.in_(bindparam("references", expanding=True)),
)
_ENTRIES_OF = (
    select(ArchiveEntry)
    .where(ArchiveEntry.archive_id.in_(bindparam("archive_ids", expanding=True)))
    .order_by(ArchiveEntry.archive_id, ArchiveEntry.occurred_on, ArchiveEntry.entry_id)
)
_DELETE_ENTRIES_OF = delete(ArchiveEntry).where(
    ArchiveEntry.archive_id.in_(bindparam("archive_ids", expanding=True))
)
_HANDOVERS_OF = select(ArchiveHandover).where(
    ArchiveHandover.province == bindparam("province"),
    ArchiveHandover.transfer_id.in_(bindparam("transfer_ids", expanding=True)),
)
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
                outcome.decided_unit,
                outcome.decided_rule,
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

    async def discipline_entries(self, archive_id: str) -> list[ArchiveEntry]:
        rows = await self.session.execute(
            select(ArchiveEntry).where(
                ArchiveEntry.archive_id == archive_id,
                ArchiveEntry.section == Section.DISCIPLINE,
            )
        )
        return list(rows.scalars())

    async def update(self, archive_id: str, values: Mapping[str, Any]) -> None:
        params = {"k_province": self.province, "k_archive_id": archive_id, **values}
        result = await self.session.execute(_UPDATE_ARCHIVE, params)
        if _rowcount(result):
            _written(self.session, Archive, archive_id, values)

    # --- transfers: a run of messages at once (one delivery batch) ----------------------

    async def active_of(self, student_numbers: Collection[str]) -> dict[str, Archive]:
        """The active archives under these student numbers here, by number."""
        return await self._of_numbers(_ACTIVE_OF, student_numbers)

    async def by_numbers(self, student_numbers: Collection[str]) -> dict[str, Archive]:
        """The archives under these student numbers here, whatever their status, by number."""
        return await self._of_numbers(_BY_NUMBERS, student_numbers)

    async def _of_numbers(self, statement: Any, numbers: Collection[str]) -> dict[str, Archive]:
        if not numbers:
            return {}
        params = {"province": self.province, "student_numbers": list(numbers)}
        found = (await self.session.execute(statement, params)).scalars()
        return {archive.student_number or "": archive for archive in found}

    async def referenced(
        self, kind: str, pairs: Collection[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which of these (archive id, reference) already have an entry of ``kind``."""
        if not pairs:
            return set()
        params = {
            "kind": kind,
            "archive_ids": sorted({archive_id for archive_id, _ in pairs}),
            "references": sorted({reference for _, reference in pairs}),
        }
        rows = await self.session.execute(_REFERENCED, params)
        return {(row.archive_id, row.reference) for row in rows} & set(pairs)

    async def entries_of(self, archive_ids: Collection[str]) -> dict[str, list[ArchiveEntry]]:
        """Each archive's entries, in the order of :meth:`entries`."""
        entries: dict[str, list[ArchiveEntry]] = {archive_id: [] for archive_id in archive_ids}
        if archive_ids:
            rows = await self.session.execute(_ENTRIES_OF, {"archive_ids": list(archive_ids)})
            for entry in rows.scalars():
                entries[entry.archive_id].append(entry)
        return entries

    async def add_entry_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert entries with the same keys in one ``executemany``, whatever their values
        (:meth:`add_entries` starts another INSERT wherever a row has a None the one before
        it does not have)."""
        rows = [dict(row) for row in rows]
        if rows:
            await self.session.execute(_ADD_ENTRY_ROWS, rows)

    async def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert archives (rows with the same keys) in one ``executemany``."""
        if rows:
            await self.session.execute(_ADD_ARCHIVE, [dict(row) for row in rows])

    async def update_many(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Set each archive's values (archive id → values, the same columns for every
        archive) in one ``executemany``."""
        if not values:
            return
        params = [
            {"k_province": self.province, "k_archive_id": archive_id, **written}
            for archive_id, written in values.items()
        ]
        await self.session.execute(_UPDATE_ARCHIVE, params)
        for archive_id, written in values.items():
            _written(self.session, Archive, archive_id, written)

    async def delete_entries_of(self, archive_ids: Collection[str]) -> None:
        if archive_ids:
            await self.session.execute(_DELETE_ENTRIES_OF, {"archive_ids": list(archive_ids)})

    async def add_backups(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Keep sending schools' backups, once per (school, transfer)."""
        if rows:
            statement = _ADD_BACKUPS_ONCE[self.session.get_bind().dialect.name]
            await self.session.execute(statement, [dict(row) for row in rows])

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

    async def of(self, transfer_ids: Collection[str]) -> dict[str, ArchiveHandover]:
        """The hand-overs of these transfers made here, by transfer id."""
        if not transfer_ids:
            return {}
        params = {"province": self.province, "transfer_ids": list(transfer_ids)}
        found = (await self.session.execute(_HANDOVERS_OF, params)).scalars()
        return {handover.transfer_id: handover for handover in found}

    async def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert hand-overs (rows with the same keys) in one ``executemany``."""
        if rows:
            await self.session.execute(_ADD_HANDOVER, [dict(row) for row in rows])

    async def mark_received_many(
        self, handovers: Collection[ArchiveHandover], at: datetime
    ) -> None:
        """The hand-overs are received (one ``executemany``); those already received stay as
        they are."""
        open_ones = [h for h in handovers if h.state != HandoverState.RECEIVED]
        if not open_ones:
            return
        params = [
            {"k_province": self.province, "k_transfer_id": h.transfer_id, "v_received_at": at}
            for h in open_ones
        ]
        await self.session.execute(_MARK_RECEIVED, params)
        for handover in open_ones:
            _written(
                self.session,
                ArchiveHandover,
                handover.transfer_id,
                {"state": HandoverState.RECEIVED, "received_at": at},
            )

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
