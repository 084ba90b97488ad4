"""The archive follows a transferred student (籍随人走) — N2013 arts. 9, 15; HA arts. 18-19.

On ``transfer.completed`` (national has switched the student's school):

- **same province** — the archive moves to the receiving school; section 1 records the
  transfer; the sending school keeps a read-only electronic backup (a snapshot);
- **across a border**, at the sending province — section 1 records the transfer, the sending
  school keeps its backup, the whole archive (extended info and every entry) goes to the
  receiving province in ``archive.handed_over`` — the only message that carries non-basic
  data across a border — and this province's copy becomes ``transferred_out``. The hand-over
  is listed, due by ``archive_due_on`` (1 month), until ``archive.received`` comes back;
  with no archive here to hand over it is listed as ``missing``;
- at the receiving province, ``archive.handed_over`` stores the archive active under the
  receiving school (section 1 notes where it came from) and answers ``archive.received``.

Every function runs in the caller's transaction (a message handler's) and is idempotent.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.adapters.repository import ArchiveRepository, HandoverRepository
from services.province.domain.archive import ArchiveStatus, EntryKind, HandoverState, Section
from services.province.service_layer.archive import CHINA, ArchiveNotFound
from shared.contracts.transfer import ArchiveHandedOver, ArchiveReceived, TransferCompleted
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


class HandedEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    section: Section
    kind: str
    occurred_on: date
    recorded_at: datetime
    reference: str | None = None
    data: dict[str, Any]


class HandedArchive(BaseModel):
    """The archive as ``archive.handed_over`` carries it (see :func:`snapshot`)."""

    model_config = ConfigDict(extra="ignore")

    batch_id: str
    student_number: str
    school_code: str
    basic: dict[str, Any]
    extended: dict[str, Any]
    filed_at: datetime
    activated_at: datetime | None
    entries: list[HandedEntry]


def snapshot(archive: Archive, entries: list[ArchiveEntry]) -> dict[str, Any]:
    """The whole archive as JSON: what the backup keeps and what the hand-over carries."""
    return {
        "archive_id": archive.archive_id,
        "batch_id": archive.batch_id,
        "province": archive.province,
        "student_number": archive.student_number,
        "school_code": archive.school_code,
        "status": archive.status,
        "basic": archive.basic,
        "extended": archive.extended,
        "filed_at": archive.filed_at.isoformat(),
        "activated_at": archive.activated_at.isoformat() if archive.activated_at else None,
        "entries": [
            {
                "section": e.section,
                "kind": e.kind,
                "occurred_on": e.occurred_on.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "reference": e.reference,
                "data": e.data,
            }
            for e in entries
        ],
    }


# --- transfer.completed ------------------------------------------------------------------


async def on_completed(
    ctx: HandlerContext,
    from_school: School,
    to_school: School,
    completed: TransferCompleted,
    now: datetime,
) -> None:
    """Move, hand over, or (receiving side of a cross-province transfer) wait for it."""
    province = ctx.unit.code
    if from_school.province == to_school.province == province:
        await move_within_province(ctx, completed, now)
    elif from_school.province == province:
        await hand_over(ctx, to_school, completed, now)
    else:
        log.info(
            "transfer %s: archive expected from province %s",
            completed.transfer_id,
            from_school.province,
        )


async def move_within_province(
    ctx: HandlerContext, completed: TransferCompleted, now: datetime
) -> None:
    archives = ArchiveRepository(ctx.session, ctx.unit.code)
    archive = await archives.active(completed.student_number)
    if archive is None:
        raise ArchiveNotFound(
            f"no active archive for the student of transfer {completed.transfer_id}"
        )
    reference = str(completed.transfer_id)
    if await archives.has_entry(archive.archive_id, EntryKind.TRANSFERRED, reference):
        return
    await _record_transfer(archives, archive, completed, now, cross_province=False)
    basic = {**archive.basic, "grade": completed.grade}
    await archives.update(
        archive.archive_id,
        {"school_code": completed.to_school, "basic": basic, "updated_at": now},
    )
    log.info("transfer %s: archive moved within province %s", reference, ctx.unit.code)


async def hand_over(
    ctx: HandlerContext, to_school: School, completed: TransferCompleted, now: datetime
) -> None:
    """Send the whole archive to the receiving province; keep the school's backup."""
    province = ctx.unit.code
    handovers = HandoverRepository(ctx.session, province)
    reference = str(completed.transfer_id)
    if await handovers.get(reference) is not None:
        return
    archives = ArchiveRepository(ctx.session, province)
    archive = await archives.active(completed.student_number)
    row = _handover_row(province, to_school, completed, now)
    if archive is None:
        await handovers.add({**row, "state": HandoverState.MISSING, "problem": "no active archive"})
        log.warning("transfer %s: no archive to hand over at province %s", reference, province)
        return
    handed = await _record_transfer(archives, archive, completed, now, cross_province=True)
    await archives.update(
        archive.archive_id, {"status": ArchiveStatus.TRANSFERRED_OUT, "updated_at": now}
    )
    await handovers.add(
        {**row, "archive_id": archive.archive_id, "state": HandoverState.SENT, "sent_at": now}
    )
    message = ArchiveHandedOver(
        transfer_id=completed.transfer_id,
        student_number=completed.student_number,
        from_school=completed.from_school,
        to_school=completed.to_school,
        archive=handed,
    )
    await ctx.emit(message, target=UnitRef(tier=Tier.PROVINCE, code=to_school.province))
    log.info("transfer %s: archive handed to province %s", reference, to_school.province)


async def _record_transfer(
    archives: ArchiveRepository,
    archive: Archive,
    completed: TransferCompleted,
    now: datetime,
    *,
    cross_province: bool,
) -> dict[str, Any]:
    """Section 1 records the transfer; the sending school keeps the archive as it is now."""
    await archives.add_entries([_transferred_entry(archive, completed, now, cross_province)])
    copy = snapshot(archive, await archives.entries(archive.archive_id))
    await archives.add_backup(
        {
            "province": archive.province,
            "school_code": completed.from_school,
            "student_number": completed.student_number,
            "transfer_id": str(completed.transfer_id),
            "to_school": completed.to_school,
            "snapshot": copy,
            "taken_at": now,
        }
    )
    return copy


def _transferred_entry(
    archive: Archive, completed: TransferCompleted, now: datetime, cross_province: bool
) -> dict[str, Any]:
    return {
        "archive_id": archive.archive_id,
        "section": Section.BASIC,
        "kind": EntryKind.TRANSFERRED,
        "occurred_on": completed.completed_at.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": str(completed.transfer_id),
        "data": {
            "transfer_id": str(completed.transfer_id),
            "from_school": completed.from_school,
            "to_school": completed.to_school,
            "grade": completed.grade,
            "class_name": completed.class_name,
            "cross_province": cross_province,
            "completed_at": completed.completed_at.isoformat(),
        },
    }


def _handover_row(
    province: str, to_school: School, completed: TransferCompleted, now: datetime
) -> dict[str, Any]:
    return {
        "transfer_id": str(completed.transfer_id),
        "province": province,
        "to_province": to_school.province,
        "student_number": completed.student_number,
        "from_school": completed.from_school,
        "to_school": completed.to_school,
        "due_on": completed.archive_due_on,
        "created_at": now,
    }


# --- archive.handed_over / archive.received ----------------------------------------------


async def receive(
    ctx: HandlerContext, from_province: str, handed: ArchiveHandedOver, now: datetime
) -> None:
    """Keep a handed-over archive active under the receiving school; send the receipt."""
    archive = _parsed(handed)
    archives = ArchiveRepository(ctx.session, ctx.unit.code)
    reference = str(handed.transfer_id)
    existing = await archives.by_number(handed.student_number)
    if existing is not None and await archives.has_entry(
        existing.archive_id, EntryKind.ARCHIVE_RECEIVED, reference
    ):
        await _acknowledge(ctx, from_province, handed)  # a resent hand-over: receipt again
        return
    if existing is not None and existing.status != ArchiveStatus.TRANSFERRED_OUT:
        raise PermanentMessageError(
            f"transfer {reference}: an archive of the student is already {existing.status} here"
        )
    archive_id = existing.archive_id if existing is not None else str(uuid.uuid4())
    values = _received_row(ctx.unit.code, handed, archive, now)
    if existing is None:
        await archives.add({"archive_id": archive_id, **values})
    else:  # the student comes back: their old copy here is replaced by the current archive
        await archives.delete_entries(archive_id)
        await archives.update(archive_id, values)
    await archives.add_entries(_received_entries(archive_id, from_province, handed, archive, now))
    await _acknowledge(ctx, from_province, handed)
    log.info("transfer %s: archive received from province %s", reference, from_province)


def _parsed(handed: ArchiveHandedOver) -> HandedArchive:
    try:
        archive = HandedArchive.model_validate(handed.archive)
    except ValidationError:
        raise PermanentMessageError(
            f"transfer {handed.transfer_id}: the handed-over archive is not readable"
        ) from None
    if archive.student_number != handed.student_number:
        raise PermanentMessageError(
            f"transfer {handed.transfer_id}: the archive is under another student number"
        )
    return archive


def _received_row(
    province: str, handed: ArchiveHandedOver, archive: HandedArchive, now: datetime
) -> dict[str, Any]:
    return {
        "province": province,
        "school_code": handed.to_school,
        "batch_id": archive.batch_id,
        "status": ArchiveStatus.ACTIVE,
        "student_number": handed.student_number,
        "basic": archive.basic,
        "extended": archive.extended,
        "filed_at": archive.filed_at,
        "activated_at": archive.activated_at,
        "updated_at": now,
    }


def _received_entries(
    archive_id: str,
    from_province: str,
    handed: ArchiveHandedOver,
    archive: HandedArchive,
    now: datetime,
) -> list[dict[str, Any]]:
    entries = [{"archive_id": archive_id, **e.model_dump()} for e in archive.entries]
    entries.append(
        {
            "archive_id": archive_id,
            "section": Section.BASIC,
            "kind": EntryKind.ARCHIVE_RECEIVED,
            "occurred_on": now.astimezone(CHINA).date(),
            "recorded_at": now,
            "reference": str(handed.transfer_id),
            "data": {
                "transfer_id": str(handed.transfer_id),
                "from_province": from_province,
                "from_school": handed.from_school,
                "to_school": handed.to_school,
            },
        }
    )
    return entries


async def _acknowledge(ctx: HandlerContext, from_province: str, handed: ArchiveHandedOver) -> None:
    receipt = ArchiveReceived(transfer_id=handed.transfer_id, student_number=handed.student_number)
    await ctx.emit(receipt, target=UnitRef(tier=Tier.PROVINCE, code=from_province))


async def record_receipt(ctx: HandlerContext, received: ArchiveReceived, now: datetime) -> None:
    """The receiving province has the archive: the hand-over is done."""
    handovers = HandoverRepository(ctx.session, ctx.unit.code)
    handover = await handovers.get(str(received.transfer_id))
    if handover is None or handover.student_number != received.student_number:
        raise PermanentMessageError(
            f"transfer {received.transfer_id}: no archive was handed over from here"
        )
    await handovers.mark_received(handover.transfer_id, now)
