"""A school merged or closed (N2013 art. 9; decision 0043): its registrations move, set-based.

One ``UPDATE registry_entry SET school_code = … WHERE school_code = …`` (index
``ix_registry_entry_school``) moves every registration of the closing school that no transfer
or progression holds (``active_transfer_id IS NULL``); one ``INSERT … SELECT`` per batch of
2,000 logs them in the registry change log (kind ``school_merged``, the deciding operator).
The held students stay where they are and are reported refused (``school_merger_held``).
One ``school.merged_applied`` per 2,000 students goes to the authority, both schools and the
province(s).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import RegistryEntry, SchoolClosure
from services.national.service_layer.change_log import SCHOOL_MERGED, entries_in, log_changes
from services.national.service_layer.transfers.notices import basic_of
from shared.contracts.merger import (
    MERGER_ARTICLE,
    MERGER_BATCH,
    MergedStudent,
    RefusedStudent,
    SchoolMerged,
    SchoolMergedApplied,
)
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.emit import Emit

log = logging.getLogger(__name__)

HELD = "school_merger_held"
CLOSED_RULE = "school_closed"
# Built once: every run of transfer requests asks it (decision 0019).
_CLOSED_AMONG = select(SchoolClosure.school_code).where(
    SchoolClosure.school_code.in_(bindparam("school_codes", expanding=True))
)


async def apply_merger(
    session: AsyncSession,
    emit: Emit,
    from_school: School,
    to_school: School,
    merged: SchoolMerged,
    now: datetime,
) -> tuple[int, int]:
    """Close the school and move its registrations; returns (moved, refused)."""
    await _close(session, from_school, to_school, merged, now)
    rows = (
        (
            await session.execute(
                select(RegistryEntry)
                .where(RegistryEntry.school_code == from_school.code)
                .order_by(RegistryEntry.student_number)
            )
        )
        .scalars()
        .all()
    )
    moving = [r for r in rows if r.active_transfer_id is None]
    held = [r for r in rows if r.active_transfer_id is not None]
    moved = [
        MergedStudent(student_number=r.student_number, basic=basic_of(r, r.grade), status=r.status)
        for r in moving
    ]
    refused = [
        RefusedStudent(student_number=r.student_number, rule=HELD, article=MERGER_ARTICLE)
        for r in held
    ]
    entry_ids = [r.entry_id for r in moving]
    await session.execute(
        update(RegistryEntry)
        .where(
            RegistryEntry.school_code == from_school.code,
            RegistryEntry.active_transfer_id.is_(None),
        )
        .values(school_code=to_school.code, province_code=to_school.province, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for start in range(0, len(entry_ids), MERGER_BATCH):
        await log_changes(
            session,
            kind=SCHOOL_MERGED,
            subject_id=str(merged.merger_id),
            decider=merged.decider,
            at=now,
            where=entries_in(entry_ids[start : start + MERGER_BATCH]),
        )
    batches = max(1, -(-max(len(moved), len(refused)) // MERGER_BATCH))
    targets = _told(from_school, to_school)
    for index in range(batches):
        window = slice(index * MERGER_BATCH, (index + 1) * MERGER_BATCH)
        applied = SchoolMergedApplied(
            merger_id=merged.merger_id,
            from_school=from_school.code,
            to_school=to_school.code,
            kind=merged.kind,
            closed_on=merged.closed_on,
            applied_at=now,
            decider=merged.decider,
            batch=index + 1,
            batches=batches,
            moved=tuple(moved[window]),
            refused=tuple(refused[window]),
        )
        for target in targets:
            await emit(applied, target=target)
    log.info(
        "school %s merged into %s: %d moved, %d refused",
        from_school.code,
        to_school.code,
        len(moved),
        len(refused),
    )
    return len(moved), len(refused)


async def closed(session: AsyncSession, school_code: str) -> SchoolClosure | None:
    """The school's closure, if it was merged or closed."""
    return await session.get(SchoolClosure, school_code)


async def closed_among(session: AsyncSession, school_codes: Collection[str]) -> set[str]:
    """Which of the schools were merged or closed: one statement (a run of transfer
    requests asks for its receiving schools at once)."""
    if not school_codes:
        return set()
    params = {"school_codes": sorted(school_codes)}
    return set(await session.scalars(_CLOSED_AMONG, params))


async def _close(
    session: AsyncSession,
    from_school: School,
    to_school: School,
    merged: SchoolMerged,
    now: datetime,
) -> None:
    row = {
        "school_code": from_school.code,
        "merger_id": str(merged.merger_id),
        "kind": merged.kind,
        "to_school": to_school.code,
        "closed_on": merged.closed_on,
        "decided_by": merged.decider.account,
        "decided_unit": merged.decider.unit,
        "recorded_at": now,
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(SchoolClosure).values(row).on_conflict_do_nothing())


def _told(from_school: School, to_school: School) -> list[UnitRef]:
    units = [
        from_school.authority_unit,
        to_school.authority_unit,
        UnitRef(tier=Tier.SCHOOL, code=from_school.code),
        UnitRef(tier=Tier.SCHOOL, code=to_school.code),
        UnitRef(tier=Tier.PROVINCE, code=from_school.province),
        UnitRef(tier=Tier.PROVINCE, code=to_school.province),
    ]
    return list(dict.fromkeys(units))
