"""The province archive through registration and key-field changes (N2013 arts. 4, 7, 10).

- filing (``registration.archive_filed``): each registration's extended info is kept as a
  **pending** archive;
- outcome (``registration.batch_decided``): ``issued`` → the archive becomes active under the
  student number and section 1 records the registration; ``rejected`` → the pending info is
  deleted (data minimisation); ``held_for_review`` → it stays pending. Final outcomes are
  kept, so the two messages may arrive in either order: whichever comes second settles;
- key-field change applied (``key_field_change.decided``): section 1 records the change, the
  archive's basic info follows it, and the archive is re-keyed if the number changed (L → G);
  section 2 links the application's proofs where the school keeps them (N2013 arts. 7(二), 13).

Every function runs inside the caller's transaction (a message handler's); none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive
from services.province.adapters.repository import ArchiveRepository
from services.province.domain.archive import (
    ArchiveStatus,
    EntryKind,
    Outcome,
    Section,
    is_final,
    key_fields,
    with_changes,
)
from shared.contracts.decider import decider_record
from shared.contracts.registration import (
    ArchiveFiled,
    ArchiveItem,
    KeyFieldChangeDecided,
    RegistrationBatchDecided,
)
from shared.federation.config import Federation
from shared.federation.links import key_field_proof_url

# Entries are dated in China's calendar (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "CST")


class ArchiveNotFound(Exception):
    """No active archive for a change yet; retried, since its issuing may still be on its way.

    The message names the change, never the student (dead-letter reasons carry no personal
    data).
    """


async def file_archives(
    session: AsyncSession, province: str, filing: ArchiveFiled, now: datetime
) -> None:
    """Keep a batch's extended info pending; apply outcomes that arrived before it."""
    archives = ArchiveRepository(session, province)
    ids = [str(item.registration_id) for item in filing.items]
    already = await archives.existing(ids)
    fresh = [item for item in filing.items if str(item.registration_id) not in already]
    await archives.add_pending([_pending(province, filing, item, now) for item in fresh])
    await settle(archives, [str(item.registration_id) for item in fresh], now)


def _pending(
    province: str, filing: ArchiveFiled, item: ArchiveItem, now: datetime
) -> dict[str, Any]:
    return {
        "archive_id": str(item.registration_id),
        "province": province,
        "school_code": filing.school_code,
        "batch_id": str(filing.batch_id),
        "status": ArchiveStatus.PENDING,
        "student_number": None,
        "basic": item.basic.model_dump(mode="json"),
        "extended": item.extended.model_dump(mode="json"),
        "filed_at": now,
        "activated_at": None,
        "updated_at": now,
    }


async def record_outcomes(
    session: AsyncSession, province: str, decided: RegistrationBatchDecided, now: datetime
) -> None:
    """Keep the final outcomes of a batch (the first one heard wins) and settle archives."""
    archives = ArchiveRepository(session, province)
    final = [o for o in decided.outcomes if is_final(o.outcome)]
    ids = [str(o.registration_id) for o in final]
    known = await archives.known_outcomes(ids)
    decider = decider_record(decided.decider, decided.decided_by)
    await archives.add_outcomes(
        [
            {
                "registration_id": str(o.registration_id),
                "province": province,
                "school_code": decided.school_code,
                "batch_id": str(decided.batch_id),
                "outcome": o.outcome,
                "student_number": o.student_number,
                **decider,
                "received_at": now,
            }
            for o in final
            if str(o.registration_id) not in known
        ]
    )
    await settle(archives, ids, now)


async def settle(archives: ArchiveRepository, archive_ids: Sequence[str], now: datetime) -> None:
    """Apply known final outcomes to the pending archives among ``archive_ids``."""
    if not archive_ids:
        return
    due = await archives.pending_with_outcomes(archive_ids)
    issued = [row for row in due if row.outcome == Outcome.ISSUED]
    rejected = [row.archive_id for row in due if row.outcome == Outcome.REJECTED]
    await archives.activate({row.archive_id: row.student_number for row in issued}, now)
    await archives.add_entries(_registered(row, now) for row in issued)
    await archives.delete(rejected)


def _registered(row: Any, now: datetime) -> dict[str, Any]:
    """Section 1 entry: the registration was approved and the student number issued."""
    return {
        "archive_id": row.archive_id,
        "section": Section.BASIC,
        "kind": EntryKind.REGISTERED,
        "occurred_on": now.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": row.batch_id,
        "data": {
            "student_number": row.student_number,
            "school_code": row.school_code,
            "grade": row.basic.get("grade"),
            "enrolled_on": row.basic.get("enrolled_on"),
            "decided_by": row.decided_by,
            "decided_unit": row.decided_unit,
            "decided_rule": row.decided_rule,
        },
    }


async def apply_key_field_change(
    session: AsyncSession,
    province: str,
    decided: KeyFieldChangeDecided,
    now: datetime,
    *,
    federation: Federation | None = None,
) -> None:
    """Record an applied key-field change in section 1, link its proofs in section 2 (URLs at
    the school; relative without ``federation``) and re-key the archive if needed."""
    if decided.outcome != "applied":
        return  # a refused change changes nothing in the archive
    archives = ArchiveRepository(session, province)
    archive = await _changed_archive(archives, decided)
    reference = str(decided.change_id)
    if await archives.has_entry(archive.archive_id, EntryKind.KEY_FIELD_CHANGE, reference):
        return
    if decided.hukou_region is not None:
        await _apply_hukou_place(archives, archive, decided, federation, now)
        return
    changes = decided.changes.model_dump(mode="json")
    number = decided.new_student_number or decided.student_number
    basic = with_changes(archive.basic, changes)
    entry = _key_field_entry(archive, decided, basic, number, now)  # before the row changes
    await archives.update_basic(archive.archive_id, basic, number, now)
    proofs = _key_field_proofs(archive, decided, federation, now) if decided.proofs else []
    await archives.add_entries([entry, *proofs])


async def _apply_hukou_place(
    archives: ArchiveRepository,
    archive: Archive,
    decided: KeyFieldChangeDecided,
    federation: Federation | None,
    now: datetime,
) -> None:
    """The hukou place (a key field the province holds, decision 0043): the archive's
    extended info changes, section 1 records it as a key-field change, section 2 its proofs."""
    before = archive.extended.get("hukou_region")
    await archives.update(
        archive.archive_id,
        {"extended": {**archive.extended, "hukou_region": decided.hukou_region}, "updated_at": now},
    )
    entry = {
        "archive_id": archive.archive_id,
        "section": Section.BASIC,
        "kind": EntryKind.KEY_FIELD_CHANGE,
        "occurred_on": now.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": str(decided.change_id),
        "data": {
            "change_id": str(decided.change_id),
            "before": {"hukou_region": before},
            "after": {"hukou_region": decided.hukou_region},
            "student_number": archive.student_number,
            **decider_record(decided.decider, decided.decided_by),
        },
    }
    proofs = _key_field_proofs(archive, decided, federation, now) if decided.proofs else []
    await archives.add_entries([entry, *proofs])


async def _changed_archive(archives: ArchiveRepository, decided: KeyFieldChangeDecided) -> Archive:
    """The archive the change is about (under its new number if it was applied before)."""
    for number in (decided.student_number, decided.new_student_number):
        if number and (archive := await archives.active(number)) is not None:
            return archive
    raise ArchiveNotFound(
        f"no active archive for the student of key-field change {decided.change_id}"
    )


def _key_field_entry(
    archive: Archive,
    decided: KeyFieldChangeDecided,
    basic: dict[str, Any],
    number: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "archive_id": archive.archive_id,
        "section": Section.BASIC,
        "kind": EntryKind.KEY_FIELD_CHANGE,
        "occurred_on": now.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": str(decided.change_id),
        "data": {
            "change_id": str(decided.change_id),
            "before": key_fields(archive.basic, decided.changes.model_dump(mode="json")),
            "after": key_fields(basic, decided.changes.model_dump(mode="json")),
            "previous_student_number": archive.student_number,
            "student_number": number,
            **decider_record(decided.decider, decided.decided_by),
        },
    }


def _key_field_proofs(
    archive: Archive, decided: KeyFieldChangeDecided, federation: Federation | None, now: datetime
) -> list[dict[str, Any]]:
    """Section 2 (学籍信息证明材料): where the school keeps the application's proofs."""
    reference = str(decided.change_id)
    return [
        {
            "archive_id": archive.archive_id,
            "section": Section.PROOFS,
            "kind": EntryKind.KEY_FIELD_CHANGE_PROOFS,
            "occurred_on": now.astimezone(CHINA).date(),
            "recorded_at": now,
            "reference": reference,
            "data": {
                "change_id": reference,
                "fields": list(decided.changes.named())
                + (["hukou_region"] if decided.hukou_region else []),
                "proofs": [
                    {
                        "index": p.index,
                        "kind": p.kind,
                        "url": key_field_proof_url(
                            federation, decided.school_code, reference, p.index
                        ),
                    }
                    for p in decided.proofs
                ],
            },
        }
    ]
