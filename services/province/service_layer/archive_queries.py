"""Reading archives: the whole record of one student of this province, the live archive as
a school sees it, a sending school's backup, and the hand-overs to other provinces."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.province.adapters.orm import Archive, ArchiveBackup, ArchiveEntry, ArchiveHandover
from services.province.adapters.repository import ArchiveRepository, HandoverRepository
from shared.db.engine import SessionFactory
from shared.runtime.errors import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveRecord:
    archive: Archive
    entries: list[ArchiveEntry]


async def read_archive(
    sessions: SessionFactory, province: str, student_number: str
) -> ArchiveRecord:
    """The active archive under ``student_number`` in ``province``; NotFound otherwise."""
    async with sessions() as session:
        archives = ArchiveRepository(session, province)
        archive = await archives.active(student_number)
        if archive is None:
            raise NotFound("no archive under this student number here", rule="archive_not_found")
        entries = await archives.entries(archive.archive_id)
    # Who reads registration data is accountable (ZJ art. 30): log the access, not the person.
    log.info("archive %s read at province %s", archive.archive_id, province)
    return ArchiveRecord(archive, entries)


async def read_school_archive(
    sessions: SessionFactory, province: str, school_code: str, student_number: str
) -> ArchiveRecord:
    """The live archive as a school sees it: only while the student's archive is with that
    school. A school the student transferred away from reads its backup instead."""
    async with sessions() as session:
        archives = ArchiveRepository(session, province)
        archive = await archives.active(student_number)
        if archive is None or archive.school_code != school_code:
            if await archives.latest_backup(school_code, student_number) is not None:
                raise NotFound(
                    "the archive moved with the student; this school keeps a read-only backup "
                    f"at /api/v1/schools/{school_code}/archive-backups/{student_number}",
                    rule="archive_transferred",
                )
            raise NotFound("no archive of this student at this school", rule="archive_not_found")
        entries = await archives.entries(archive.archive_id)
    log.info("archive %s read for school %s", archive.archive_id, school_code)
    return ArchiveRecord(archive, entries)


async def read_backup(
    sessions: SessionFactory, province: str, school_code: str, student_number: str
) -> ArchiveBackup:
    """The newest electronic backup a sending school keeps (N2013 art. 9)."""
    async with sessions() as session:
        backup = await ArchiveRepository(session, province).latest_backup(
            school_code, student_number
        )
    if backup is None:
        raise NotFound("this school keeps no backup of that archive", rule="backup_not_found")
    log.info("archive backup %s read for school %s", backup.backup_id, school_code)
    return backup


async def list_handovers(
    sessions: SessionFactory,
    province: str,
    *,
    states: Sequence[str] | None,
    overdue_on: date | None,
    limit: int,
    offset: int,
) -> tuple[list[ArchiveHandover], int]:
    async with sessions() as session:
        return await HandoverRepository(session, province).page(
            states=states, overdue_on=overdue_on, limit=limit, offset=offset
        )
