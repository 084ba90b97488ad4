"""Queries of archive sections 3-7 as schools write them (set-based, scoped to a province).

An upload looks its students up in one ``IN`` list per chunk (``uq_archive_student_number``
serves it) and inserts its entries in one ``executemany``; a once-per-term entry is found by
``uq_archive_entry_reference`` (archive, kind, reference).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.domain.archive import ArchiveStatus

_ENTRY: Table = ArchiveEntry.__table__  # type: ignore[assignment]
_ARCHIVE: Table = Archive.__table__  # type: ignore[assignment]
# Well under every database's limit of bound parameters in one statement.
CHUNK = 2000

_LIVE_OF = select(_ARCHIVE.c.student_number, _ARCHIVE.c.archive_id).where(
    _ARCHIVE.c.province == bindparam("province"),
    _ARCHIVE.c.school_code == bindparam("school_code"),
    _ARCHIVE.c.status == ArchiveStatus.ACTIVE,
    _ARCHIVE.c.student_number.in_(bindparam("numbers", expanding=True)),
)
_REFERENCED = select(_ENTRY.c.archive_id).where(
    _ENTRY.c.archive_id.in_(bindparam("archive_ids", expanding=True)),
    _ENTRY.c.kind == bindparam("kind"),
    _ENTRY.c.reference == bindparam("reference"),
)
_SECTION = (
    select(ArchiveEntry)
    .where(
        ArchiveEntry.archive_id == bindparam("archive_id"),
        ArchiveEntry.section == bindparam("section"),
    )
    .order_by(ArchiveEntry.occurred_on, ArchiveEntry.entry_id)
)
_ADD = insert(_ENTRY)


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


class SectionRepository:
    def __init__(self, session: AsyncSession, province: str) -> None:
        self.session = session
        self.province = province

    async def live_of(self, school_code: str, numbers: Collection[str]) -> dict[str, str]:
        """student number → archive id, for the students whose live archive is with
        ``school_code`` (a student who left, or of another school, is not among them)."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(numbers))):
            params = {"province": self.province, "school_code": school_code, "numbers": chunk}
            rows = await self.session.execute(_LIVE_OF, params)
            found.update({number: archive_id for number, archive_id in rows.all()})
        return found

    async def referenced(self, archive_ids: Collection[str], kind: str, reference: str) -> set[str]:
        """Which of these archives already hold the entry ``(kind, reference)``."""
        held: set[str] = set()
        for chunk in _chunks(sorted(set(archive_ids))):
            params = {"archive_ids": chunk, "kind": kind, "reference": reference}
            held.update((await self.session.execute(_REFERENCED, params)).scalars())
        return held

    async def section(self, archive_id: str, section: str) -> list[ArchiveEntry]:
        rows = await self.session.execute(_SECTION, {"archive_id": archive_id, "section": section})
        return list(rows.scalars())

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert entries with the same keys in one ``executemany``."""
        if rows:
            await self.session.execute(_ADD, [dict(row) for row in rows])
