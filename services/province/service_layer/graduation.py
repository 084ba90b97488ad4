"""Use case: national applied a school's graduating list; the province updates the archives
(毕业 / 结业 / 肄业, ZJ arts. 24-26) and removes every discipline record of the students who
left (ZJ art. 23: "在学生毕业时，所有的处分记录从学生学籍档案中撤除").

Set-based: per 500 students one look-up of their active archives, one DELETE of their
discipline entries, one executemany of a section-1 ``graduation`` entry each (the outcome, the
batch as reference, how many discipline entries were removed — a count, never the records).
The archive itself stays active: it follows the student to the next stage (progression).
A rejected list changes nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.domain.archive import ArchiveStatus, EntryKind, Section
from services.province.service_layer.archive import CHINA
from shared.contracts.decider import decider_record
from shared.contracts.graduation import GraduationBatchDecided, GraduationItem

log = logging.getLogger(__name__)
_CHUNK = 500


async def apply_graduation(
    session: AsyncSession, province: str, decided: GraduationBatchDecided, now: datetime
) -> None:
    if decided.outcome != "approved" or not decided.applied:
        return
    removed_total = 0
    items = list(decided.applied)
    for start in range(0, len(items), _CHUNK):
        removed_total += await _apply_chunk(
            session, province, decided, items[start : start + _CHUNK], now
        )
    log.info(
        "graduation batch %s: %d archives updated, %d discipline entries removed",
        decided.batch_id,
        len(items),
        removed_total,
    )


async def _apply_chunk(
    session: AsyncSession,
    province: str,
    decided: GraduationBatchDecided,
    items: Sequence[GraduationItem],
    now: datetime,
) -> int:
    outcome_of = {item.student_number: item.outcome for item in items}
    rows = await session.execute(
        select(Archive.archive_id, Archive.student_number).where(
            Archive.province == province,
            Archive.status == ArchiveStatus.ACTIVE,
            Archive.student_number.in_(list(outcome_of)),
        )
    )
    archives: dict[str, str] = {archive_id: number for archive_id, number in rows if number}
    if not archives:
        return 0
    reference = str(decided.batch_id)
    done = set(
        (
            await session.execute(
                select(ArchiveEntry.archive_id).where(
                    ArchiveEntry.archive_id.in_(list(archives)),
                    ArchiveEntry.kind == EntryKind.GRADUATION,
                    ArchiveEntry.reference == reference,
                )
            )
        ).scalars()
    )
    todo = [archive_id for archive_id in archives if archive_id not in done]
    if not todo:
        return 0
    discipline = (ArchiveEntry.archive_id.in_(todo), ArchiveEntry.section == Section.DISCIPLINE)
    counts = dict(
        (
            await session.execute(
                select(ArchiveEntry.archive_id, func.count())
                .where(*discipline)
                .group_by(ArchiveEntry.archive_id)
            )
        ).all()
    )
    await session.execute(delete(ArchiveEntry).where(*discipline))
    occurred_on = now.astimezone(CHINA).date()
    await session.execute(
        insert(ArchiveEntry),
        [
            {
                "archive_id": archive_id,
                "section": Section.BASIC,
                "kind": EntryKind.GRADUATION,
                "occurred_on": occurred_on,
                "recorded_at": now,
                "reference": reference,
                "data": {
                    "outcome": outcome_of[archives[archive_id]],
                    "graduation_year": decided.graduation_year,
                    "school_code": decided.school_code,
                    "discipline_entries_removed": int(counts.get(archive_id, 0)),
                    **decider_record(decided.decider, decided.decided_by),
                },
            }
            for archive_id in todo
        ],
    )
    return sum(int(n) for n in counts.values())
