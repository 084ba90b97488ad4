"""Reading an archive: the whole record of one student of this province."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.adapters.repository import ArchiveRepository
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
