"""The archive through a student's status changes (学籍变动, N2013 arts. 7, 13, 22).

- ``status_change.decided`` (applied): section 1 records the change (status and grade before
  and after, the date, the article, who decided), section 2 the proofs (学籍信息证明材料:
  kind and where the school serves each file); the archive's basic info follows a new grade.
  A refused change changes nothing here.
- a migrant child who drops out (随迁子女辍学): the archive is due to the county of the
  student's hukou at the end of the term (N2013 art. 22; HA art. 14; ZJ art. 18; LS 2(四)).
  The province knows both from the archive's extended info (``migrant``, ``hukou_region``);
  the term ends come from the province's rules (``[status_change] term_ends``). The term-end
  sweep (:func:`hand_over_dropout_archives`) sends each due archive to the province of the
  hukou county (``dropout.archive_handed_over``), which keeps it for that county
  (:func:`receive_hukou_archive`).

Every function runs inside the caller's transaction; none commits.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive
from services.province.adapters.repository import ArchiveRepository
from services.province.adapters.status_repository import DropoutRepository
from services.province.domain.archive import DropoutHandoverState, EntryKind, Section
from services.province.service_layer.archive import CHINA, ArchiveNotFound
from services.province.service_layer.archive_transfer import snapshot
from shared.contracts.decider import decider_record
from shared.contracts.status import DropoutArchiveHandedOver, StatusChangeDecided
from shared.federation.config import Federation, Tier, UnitRef
from shared.federation.links import status_proof_url
from shared.messaging.emit import Emit
from shared.messaging.errors import PermanentMessageError
from shared.rules import StatusChangeRules

log = logging.getLogger(__name__)


async def record_status_change(
    session: AsyncSession,
    province: str,
    decided: StatusChangeDecided,
    federation: Federation,
    rules: StatusChangeRules,
    now: datetime,
) -> None:
    """Record an applied change in sections 1 and 2; queue a migrant dropout's archive."""
    if decided.outcome != "applied":
        return
    archives = ArchiveRepository(session, province)
    archive = await archives.active(decided.student_number)
    if archive is None:  # retried: the registration may still be on its way here
        raise ArchiveNotFound(f"no active archive for the student of change {decided.change_id}")
    reference = str(decided.change_id)
    if await archives.has_entry(archive.archive_id, EntryKind.STATUS_CHANGE, reference):
        return
    await archives.add_entries(_entries(archive, decided, federation, now))
    if decided.to_grade is not None and decided.to_grade != archive.basic.get("grade"):
        basic = {**archive.basic, "grade": decided.to_grade}
        await archives.update(archive.archive_id, {"basic": basic, "updated_at": now})
    if decided.facts.change == "report_dropout":
        await _queue_migrant_archive(session, province, archive, decided, federation, rules, now)


def _entries(
    archive: Archive, decided: StatusChangeDecided, federation: Federation, now: datetime
) -> list[dict[str, Any]]:
    reference = str(decided.change_id)
    common = {
        "archive_id": archive.archive_id,
        "occurred_on": decided.facts.effective_on,
        "recorded_at": now,
        "reference": reference,
    }
    change = {
        **common,
        "section": Section.BASIC,
        "kind": EntryKind.STATUS_CHANGE,
        "data": {
            **decided.model_dump(
                mode="json",
                include={
                    "from_status",
                    "to_status",
                    "from_grade",
                    "to_grade",
                    "article",
                    "suspended_until",
                    "report_due_on",
                    "reported_late",
                    "stopped_transfer_id",
                },
            ),
            **decided.facts.model_dump(mode="json"),
            "school_code": decided.school_code,
            **decider_record(decided.decider, decided.decided_by),
        },
    }
    if not decided.proofs:
        return [change]
    proofs = {
        **common,
        "section": Section.PROOFS,
        "kind": EntryKind.STATUS_CHANGE_PROOFS,
        "data": {
            "change": decided.facts.change,
            "proofs": [
                {
                    "index": p.index,
                    "kind": p.kind,
                    "url": status_proof_url(federation, decided.school_code, reference, p.index),
                }
                for p in decided.proofs
            ],
        },
    }
    return [change, proofs]


async def _queue_migrant_archive(
    session: AsyncSession,
    province: str,
    archive: Archive,
    decided: StatusChangeDecided,
    federation: Federation,
    rules: StatusChangeRules,
    now: datetime,
) -> None:
    hukou = archive.extended.get("hukou_region")
    school = federation.school(decided.school_code)
    home_county = school.county if school else decided.school_code[:6]
    if not archive.extended.get("migrant") or not hukou or hukou == home_county:
        return
    await DropoutRepository(session, province).add(
        {
            "change_id": str(decided.change_id),
            "province": province,
            "archive_id": archive.archive_id,
            "student_number": decided.student_number,
            "school_code": decided.school_code,
            "hukou_county": hukou,
            "state": DropoutHandoverState.WAITING,
            "due_on": rules.next_term_end(decided.facts.effective_on),
            "created_at": now,
        }
    )
    log.info("change %s: archive due to the hukou county at term end", decided.change_id)


@dataclass(frozen=True)
class HandoverSweep:
    as_of: date
    sent: int
    no_recipient: int


async def hand_over_dropout_archives(
    session: AsyncSession,
    province: str,
    federation: Federation,
    emit: Emit,
    as_of: date,
    now: datetime,
    limit: int = 1000,
) -> HandoverSweep:
    """Send every migrant dropout's archive due by ``as_of`` (a term end) to the province of
    the hukou county; one whose province is not in the federation is marked
    ``no_recipient`` for an officer. Sent archives stay here too (the school's record)."""
    dropouts = DropoutRepository(session, province)
    archives = ArchiveRepository(session, province)
    known = {p.code for p in federation.provinces}
    sent = missing = 0
    for row in await dropouts.due(as_of, limit):
        county = federation.county(row.hukou_county)
        target = county.province if county else row.hukou_county[:2]
        if target not in known:
            await dropouts.settle(row.change_id, DropoutHandoverState.NO_RECIPIENT, None)
            missing += 1
            continue
        archive = await dropouts.archive(row.archive_id)
        if archive is None:
            await dropouts.settle(row.change_id, DropoutHandoverState.NO_RECIPIENT, None)
            missing += 1
            continue
        copy = snapshot(archive, await archives.entries(archive.archive_id))
        handed = DropoutArchiveHandedOver(
            change_id=uuid.UUID(row.change_id),
            student_number=row.student_number,
            from_school=row.school_code,
            hukou_county=row.hukou_county,
            archive=copy,
        )
        await emit(handed, target=UnitRef(tier=Tier.PROVINCE, code=target))
        await archives.add_entries([_sent_entry(row, now)])
        await dropouts.settle(row.change_id, DropoutHandoverState.SENT, now)
        sent += 1
    log.info(
        "dropout archives of %s due by %s: %d sent, %d without recipient",
        province,
        as_of,
        sent,
        missing,
    )
    return HandoverSweep(as_of, sent, missing)


def _sent_entry(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "archive_id": row.archive_id,
        "section": Section.BASIC,
        "kind": EntryKind.SENT_TO_HUKOU_COUNTY,
        "occurred_on": now.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": row.change_id,
        "data": {"hukou_county": row.hukou_county, "term_end": row.due_on.isoformat()},
    }


async def receive_hukou_archive(
    session: AsyncSession,
    province: str,
    handed: DropoutArchiveHandedOver,
    federation: Federation,
    now: datetime,
) -> None:
    """Keep an archive handed over for a hukou county of this province (once)."""
    county = federation.county(handed.hukou_county)
    belongs = county.province if county else handed.hukou_county[:2]
    if belongs != province:
        raise PermanentMessageError(
            f"change {handed.change_id}: county {handed.hukou_county} is not in province {province}"
        )
    await DropoutRepository(session, province).keep_hukou_archive(
        {
            "province": province,
            "county_code": handed.hukou_county,
            "change_id": str(handed.change_id),
            "student_number": handed.student_number,
            "from_school": handed.from_school,
            "snapshot": handed.archive,
            "received_at": now,
        }
    )
