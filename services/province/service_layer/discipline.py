"""Use case: a school records and lifts its students' discipline records in the archive the
province keeps (处分 / 解除处分, ZJ arts. 22-23). The rules: :mod:`..domain.discipline`.

The school acts on the archive of its own student only (the live archive: after a transfer
the receiving school does). The record's reason is personal data: it stays in the archive and
is never logged; the transfer discipline check tells other parties only *that* a record is in
force (``service_layer/transfer_steps.py``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.adapters.repository import ArchiveRepository
from services.province.domain.archive import EntryKind, Section
from services.province.domain.discipline import (
    NORMAL_TERM_MONTHS,
    DisciplineKind,
    imposition_refusal,
    lifting_refusal,
    term_ends_on,
)
from shared.db.engine import SessionFactory
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DisciplineRecord:
    record_id: str
    kind: str
    reason: str
    imposed_on: date
    term_months: int
    term_ends_on: date
    shortened_reason: str | None
    lifted_on: date | None

    def in_force(self, today: date) -> bool:
        return self.imposed_on <= today and (self.lifted_on is None or self.lifted_on > today)


@dataclass(frozen=True)
class Imposed:
    kind: DisciplineKind
    reason: str
    imposed_on: date
    term_months: int
    shortened_reason: str | None


async def record(
    session: AsyncSession,
    province: str,
    school_code: str,
    student_number: str,
    imposed: Imposed,
    today: date,
    now: datetime,
) -> DisciplineRecord:
    """Add a discipline record to the live archive of a student of ``school_code``."""
    refusal = imposition_refusal(
        imposed.imposed_on, imposed.term_months, imposed.shortened_reason, today
    )
    if refusal is not None:
        raise DomainError(refusal.message, rule=refusal.rule)
    record_id = str(uuid.uuid4())
    ends_on = term_ends_on(imposed.imposed_on, imposed.term_months)
    archives = ArchiveRepository(session, province)
    archive = await _live_archive(archives, school_code, student_number)
    data = {
        "record_id": record_id,
        "kind": imposed.kind.value,
        "reason": imposed.reason,
        "term_months": imposed.term_months,
        "term_ends_on": ends_on.isoformat(),
        "shortened_reason": imposed.shortened_reason,
        "school_code": school_code,
    }
    await archives.add_entries(
        [_entry(archive, EntryKind.DISCIPLINE, imposed.imposed_on, record_id, data, now)]
    )
    log.info("discipline record %s added to archive %s", record_id, archive.archive_id)
    return DisciplineRecord(
        record_id,
        imposed.kind.value,
        imposed.reason,
        imposed.imposed_on,
        imposed.term_months,
        ends_on,
        imposed.shortened_reason,
        None,
    )


async def lift(
    session: AsyncSession,
    province: str,
    school_code: str,
    student_number: str,
    record_id: uuid.UUID,
    lifted_on: date,
    now: datetime,
) -> DisciplineRecord:
    """Lift a record whose term is served (解除处分, ZJ art. 23)."""
    key = str(record_id)  # as the archive's entries hold it (JSON)
    archives = ArchiveRepository(session, province)
    archive = await _live_archive(archives, school_code, student_number)
    records = _records(await archives.discipline_entries(archive.archive_id))
    found = next((r for r in records if r.record_id == key), None)
    if found is None:
        raise NotFound(
            "no such discipline record in this archive", rule="discipline_record_not_found"
        )
    refusal = lifting_refusal(found.term_ends_on, found.lifted_on is not None, lifted_on)
    if refusal is not None:
        error = Conflict if found.lifted_on is not None else DomainError
        raise error(refusal.message, rule=refusal.rule)
    data = {"record_id": key, "school_code": school_code}
    entry = _entry(archive, EntryKind.DISCIPLINE_LIFTED, lifted_on, key, data, now)
    await archives.add_entries([entry])
    log.info("discipline record %s lifted in archive %s", record_id, archive.archive_id)
    return DisciplineRecord(**{**vars(found), "lifted_on": lifted_on})


async def list_records(
    sessions: SessionFactory, province: str, school_code: str, student_number: str
) -> list[DisciplineRecord]:
    async with sessions() as session:
        archives = ArchiveRepository(session, province)
        archive = await _live_archive(archives, school_code, student_number)
        records = _records(await archives.discipline_entries(archive.archive_id))
    log.info("discipline records of archive %s read for school %s", archive.archive_id, school_code)
    return records


async def _live_archive(
    archives: ArchiveRepository, school_code: str, student_number: str
) -> Archive:
    archive = await archives.active(student_number)
    if archive is None or archive.school_code != school_code:
        raise NotFound("no archive of this student at this school", rule="archive_not_found")
    return archive


def _records(entries: list[ArchiveEntry]) -> list[DisciplineRecord]:
    lifted = {e.reference: e.occurred_on for e in entries if e.kind == EntryKind.DISCIPLINE_LIFTED}
    return [
        DisciplineRecord(
            record_id=str(e.reference),
            kind=str(e.data.get("kind", "unspecified")),
            reason=str(e.data.get("reason", "")),
            imposed_on=e.occurred_on,
            term_months=int(e.data.get("term_months", NORMAL_TERM_MONTHS)),
            term_ends_on=_ends_on(e),
            shortened_reason=e.data.get("shortened_reason"),
            lifted_on=lifted.get(e.reference),
        )
        for e in sorted(entries, key=lambda e: (e.occurred_on, e.entry_id))
        if e.kind == EntryKind.DISCIPLINE
    ]


def _ends_on(entry: ArchiveEntry) -> date:
    recorded = entry.data.get("term_ends_on")
    if recorded:
        return date.fromisoformat(str(recorded))
    return term_ends_on(entry.occurred_on, NORMAL_TERM_MONTHS)


def _entry(
    archive: Archive,
    kind: EntryKind,
    occurred_on: date,
    reference: str,
    data: Mapping[str, object],
    now: datetime,
) -> dict[str, object]:
    return {
        "archive_id": archive.archive_id,
        "section": Section.DISCIPLINE,
        "kind": kind,
        "occurred_on": occurred_on,
        "recorded_at": now,
        "reference": reference,
        "data": dict(data),
    }
