"""The archives follow a merged or closed school's students (N2013 art. 9 — "学校合并或撤销的，
学生学籍档案转至合并后学校或由县级教育行政部门指定的学校"; decision 0043).

For each ``school.merged_applied`` batch (2,000 students at most) the province writes one
section-1 entry per student (kind ``school_merged``, ``reference`` the merger) with one
``INSERT … SELECT`` and re-keys the archives to the receiving school with one ``UPDATE``,
both over the closing school's active archives of the batch (``ix_archive_school``). A
repeated message finds the archives already moved and writes nothing. The closing school
keeps no backup: it no longer exists; the receiving school holds the whole archive.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import JSON, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.domain.archive import ArchiveStatus, EntryKind, Section
from shared.clock import CHINA
from shared.contracts.merger import SchoolMergedApplied

log = logging.getLogger(__name__)


async def apply_merger(
    session: AsyncSession, province: str, applied: SchoolMergedApplied, now: datetime
) -> None:
    numbers = [s.student_number for s in applied.moved]
    if not numbers:
        return
    here = (
        Archive.province == province,
        Archive.school_code == applied.from_school,
        Archive.status == ArchiveStatus.ACTIVE.value,
        Archive.student_number.in_(numbers),
    )
    data = {
        "merger_id": str(applied.merger_id),
        "kind": applied.kind,
        "from_school": applied.from_school,
        "to_school": applied.to_school,
        "closed_on": applied.closed_on.isoformat(),
        "decided_by": applied.decider.account,
        "decided_unit": applied.decider.unit,
    }
    entries = select(
        Archive.archive_id,
        literal(Section.BASIC.value),
        literal(EntryKind.SCHOOL_MERGED.value),
        literal(applied.applied_at.astimezone(CHINA).date()),
        literal(now),
        literal(str(applied.merger_id)),
        literal(data, type_=JSON),
    ).where(*here)
    columns = ["archive_id", "section", "kind", "occurred_on", "recorded_at", "reference", "data"]
    await session.execute(insert(ArchiveEntry).from_select(columns, entries))
    result = await session.execute(
        update(Archive)
        .where(*here)
        .values(school_code=applied.to_school, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    log.info(
        "merger %s (batch %d/%d): %d archives of %s moved to %s",
        applied.merger_id,
        applied.batch,
        applied.batches,
        int(getattr(result, "rowcount", 0) or 0),
        applied.from_school,
        applied.to_school,
    )
