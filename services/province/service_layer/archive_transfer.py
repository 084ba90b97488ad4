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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.adapters.repository import ArchiveRepository, HandoverRepository
from services.province.domain.archive import ArchiveStatus, EntryKind, HandoverState, Section
from services.province.service_layer.archive import CHINA, ArchiveNotFound
from shared.contracts.transfer import ArchiveHandedOver, ArchiveReceived, TransferCompleted
from shared.db.keys import time_ordered_uuid
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, emit_together

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


@dataclass(frozen=True)
class Completion:
    """One ``transfer.completed`` of a run, with the schools it names."""

    ctx: HandlerContext
    from_school: School
    to_school: School
    completed: TransferCompleted
    # the transfer's proofs as section 2 links them: kind, index and where the receiving
    # school serves each (N2013 arts. 7(二), 13)
    proofs: tuple[dict[str, Any], ...] = ()

    @property
    def reference(self) -> str:
        return str(self.completed.transfer_id)

    @property
    def student_number(self) -> str:
        return self.completed.student_number


async def on_completed(
    ctx: HandlerContext,
    from_school: School,
    to_school: School,
    completed: TransferCompleted,
    now: datetime,
) -> None:
    """Move, hand over, or (receiving side of a cross-province transfer) wait for it."""
    await on_completed_many([Completion(ctx, from_school, to_school, completed)], now)


async def on_completed_many(completions: Sequence[Completion], now: datetime) -> None:
    """:func:`on_completed` for a run of messages at once (one delivery batch): per province
    a fixed number of statements, whatever the run's length. A transfer the run holds twice
    applies once; a student the run names in several transfers is taken in rounds, in
    delivery order, so each transfer sees the archive the one before it left."""
    for province, group in _by_province(completions).items():
        for run in _rounds(_once(group, _reference), _student_number):
            await _complete(province, run, now)


async def _complete(province: str, run: Sequence[Completion], now: datetime) -> None:
    """A run in which each student appears once: move within the province, hand over across
    a border, or (the receiving side of a cross-province transfer) wait for the archive."""
    session = run[0].ctx.session
    archives = ArchiveRepository(session, province)
    handovers = HandoverRepository(session, province)
    moves = [c for c in run if c.from_school.province == c.to_school.province == province]
    outgoing = [c for c in run if c.from_school.province == province != c.to_school.province]
    for c in run:
        if c.from_school.province != province:
            log.info(
                "transfer %s: archive expected from province %s",
                c.reference,
                c.from_school.province,
            )
    handed_before = await handovers.of([c.reference for c in outgoing])
    outgoing = [c for c in outgoing if c.reference not in handed_before]
    active = await archives.active_of([c.student_number for c in (*moves, *outgoing)])
    for c in moves:
        if c.student_number not in active:
            raise ArchiveNotFound(f"no active archive for the student of transfer {c.reference}")
    moved_before = await archives.referenced(
        EntryKind.TRANSFERRED, [(active[c.student_number].archive_id, c.reference) for c in moves]
    )
    moves = [
        c for c in moves if (active[c.student_number].archive_id, c.reference) not in moved_before
    ]
    handing = [c for c in outgoing if c.student_number in active]
    copies = await _record_transfers(
        archives,
        [(c, active[c.student_number], False) for c in moves]
        + [(c, active[c.student_number], True) for c in handing],
        now,
    )
    await _move(archives, [(c, active[c.student_number]) for c in moves], now)
    await _hand_over(
        handovers, archives, [(c, active.get(c.student_number)) for c in outgoing], copies, now
    )


async def _move(
    archives: ArchiveRepository, moves: Sequence[tuple[Completion, Archive]], now: datetime
) -> None:
    """The archives go to the receiving schools, with the grade the students are in there."""
    await archives.update_many(
        {
            archive.archive_id: {
                "school_code": c.completed.to_school,
                "basic": {**archive.basic, "grade": c.completed.grade},
                "updated_at": now,
            }
            for c, archive in moves
        }
    )
    for c, _ in moves:
        log.info("transfer %s: archive moved within province %s", c.reference, archives.province)


async def _hand_over(
    handovers: HandoverRepository,
    archives: ArchiveRepository,
    outgoing: Sequence[tuple[Completion, Archive | None]],
    copies: Mapping[str, dict[str, Any]],
    now: datetime,
) -> None:
    """Send each whole archive to the receiving province and list the hand-over (``missing``
    where there is no archive here to send)."""
    handing = [(c, archive) for c, archive in outgoing if archive is not None]
    await archives.update_many(
        {
            archive.archive_id: {"status": ArchiveStatus.TRANSFERRED_OUT, "updated_at": now}
            for _, archive in handing
        }
    )
    await handovers.add_many(
        [_handover_row(handovers.province, c, archive, now) for c, archive in outgoing]
    )
    await emit_together(
        [
            (
                c.ctx,
                ArchiveHandedOver(
                    transfer_id=c.completed.transfer_id,
                    student_number=c.student_number,
                    from_school=c.completed.from_school,
                    to_school=c.completed.to_school,
                    archive=copies[c.reference],
                ),
                UnitRef(tier=Tier.PROVINCE, code=c.to_school.province),
            )
            for c, _ in handing
        ]
    )
    for c, archive in outgoing:
        if archive is not None:
            log.info(
                "transfer %s: archive handed to province %s", c.reference, c.to_school.province
            )
        else:
            log.warning(
                "transfer %s: no archive to hand over at province %s",
                c.reference,
                handovers.province,
            )


async def _record_transfers(
    archives: ArchiveRepository,
    transfers: Sequence[tuple[Completion, Archive, bool]],
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Section 1 records each transfer; each sending school keeps the archive as it is now
    (the snapshot, by transfer id: also what a hand-over carries)."""
    await archives.add_entry_rows(
        _transferred_entry(archive, c.completed, now, cross) for c, archive, cross in transfers
    )
    await archives.add_entry_rows(
        _proofs_entry(archive, c, now) for c, archive, _ in transfers if c.proofs
    )
    entries = await archives.entries_of([archive.archive_id for _, archive, _ in transfers])
    copies = {
        c.reference: snapshot(archive, entries[archive.archive_id]) for c, archive, _ in transfers
    }
    await archives.add_backups(
        [
            {
                "province": archive.province,
                "school_code": c.completed.from_school,
                "student_number": c.student_number,
                "transfer_id": c.reference,
                "to_school": c.completed.to_school,
                "snapshot": copies[c.reference],
                "taken_at": now,
            }
            for c, archive, _ in transfers
        ]
    )
    return copies


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


def _proofs_entry(archive: Archive, c: Completion, now: datetime) -> dict[str, Any]:
    """Section 2 (学籍信息证明材料): the transfer's proofs, linked where the receiving school
    keeps them, as a status change's are (N2013 arts. 7(二), 13)."""
    return {
        "archive_id": archive.archive_id,
        "section": Section.PROOFS,
        "kind": EntryKind.TRANSFER_PROOFS,
        "occurred_on": c.completed.completed_at.astimezone(CHINA).date(),
        "recorded_at": now,
        "reference": c.reference,
        "data": {
            "transfer_id": c.reference,
            "kept_by": c.completed.to_school,
            "proofs": list(c.proofs),
        },
    }


def _handover_row(
    province: str, c: Completion, archive: Archive | None, now: datetime
) -> dict[str, Any]:
    """A hand-over ``sent`` with the archive, or ``missing`` without one (same columns)."""
    return {
        "transfer_id": c.reference,
        "province": province,
        "to_province": c.to_school.province,
        "student_number": c.student_number,
        "from_school": c.completed.from_school,
        "to_school": c.completed.to_school,
        "due_on": c.completed.archive_due_on,
        "created_at": now,
        "archive_id": archive.archive_id if archive is not None else None,
        "state": HandoverState.SENT if archive is not None else HandoverState.MISSING,
        "problem": None if archive is not None else "no active archive",
        "sent_at": now if archive is not None else None,
    }


# --- archive.handed_over / archive.received ----------------------------------------------


@dataclass(frozen=True)
class HandOver:
    """One ``archive.handed_over`` of a run, from the province that sent it."""

    ctx: HandlerContext
    from_province: str
    handed: ArchiveHandedOver

    @property
    def reference(self) -> str:
        return str(self.handed.transfer_id)

    @property
    def student_number(self) -> str:
        return self.handed.student_number


async def receive(
    ctx: HandlerContext, from_province: str, handed: ArchiveHandedOver, now: datetime
) -> None:
    """Keep a handed-over archive active under the receiving school; send the receipt."""
    await receive_many([HandOver(ctx, from_province, handed)], now)


async def receive_many(handed: Sequence[HandOver], now: datetime) -> None:
    """:func:`receive` for a run of messages at once: per province a fixed number of
    statements. Every message is answered, a resent one too; a hand-over the run holds twice
    is stored once; a student it names in several is taken in rounds, in delivery order."""
    parsed = {id(h): _parsed(h.handed) for h in handed}
    for province, group in _by_province(handed).items():
        for run in _rounds(_once(group, _reference), _student_number):
            await _store(province, run, parsed, now)
        await emit_together(
            [
                (
                    h.ctx,
                    ArchiveReceived(
                        transfer_id=h.handed.transfer_id, student_number=h.student_number
                    ),
                    UnitRef(tier=Tier.PROVINCE, code=h.from_province),
                )
                for h in group
            ]
        )


async def _store(
    province: str, run: Sequence[HandOver], parsed: Mapping[int, HandedArchive], now: datetime
) -> None:
    """A run in which each student appears once."""
    archives = ArchiveRepository(run[0].ctx.session, province)
    existing = await archives.by_numbers([h.student_number for h in run])
    received_before = await archives.referenced(
        EntryKind.ARCHIVE_RECEIVED,
        [
            (existing[h.student_number].archive_id, h.reference)
            for h in run
            if h.student_number in existing
        ],
    )
    new: list[HandOver] = []
    back: list[HandOver] = []
    for h in run:
        found = existing.get(h.student_number)
        if found is None:
            new.append(h)
        elif (found.archive_id, h.reference) in received_before:
            continue  # a resent hand-over: only the receipt again
        elif found.status != ArchiveStatus.TRANSFERRED_OUT:
            raise PermanentMessageError(
                f"transfer {h.reference}: an archive of the student is already {found.status} here"
            )
        else:
            back.append(h)
    archive_ids = {id(h): str(time_ordered_uuid()) for h in new} | {
        id(h): existing[h.student_number].archive_id for h in back
    }
    await archives.add_many(
        [
            {
                "archive_id": archive_ids[id(h)],
                **_received_row(province, h.handed, parsed[id(h)], now),
            }
            for h in new
        ]
    )
    # the students who come back: their old copies here are replaced by the current archives
    await archives.delete_entries_of([archive_ids[id(h)] for h in back])
    await archives.update_many(
        {archive_ids[id(h)]: _received_row(province, h.handed, parsed[id(h)], now) for h in back}
    )
    await archives.add_entry_rows(
        entry
        for h in (*new, *back)
        for entry in _received_entries(
            archive_ids[id(h)], h.from_province, h.handed, parsed[id(h)], now
        )
    )
    for h in (*new, *back):
        log.info("transfer %s: archive received from province %s", h.reference, h.from_province)


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


@dataclass(frozen=True)
class Receipt:
    """One ``archive.received`` of a run."""

    ctx: HandlerContext
    received: ArchiveReceived

    @property
    def reference(self) -> str:
        return str(self.received.transfer_id)


async def record_receipt(ctx: HandlerContext, received: ArchiveReceived, now: datetime) -> None:
    """The receiving province has the archive: the hand-over is done."""
    await record_receipts([Receipt(ctx, received)], now)


async def record_receipts(receipts: Sequence[Receipt], now: datetime) -> None:
    """:func:`record_receipt` for a run of messages at once (per province, one read and one
    ``executemany``)."""
    for province, group in _by_province(receipts).items():
        handovers = HandoverRepository(group[0].ctx.session, province)
        made = await handovers.of({r.reference for r in group})
        for r in group:
            handover = made.get(r.reference)
            if handover is None or handover.student_number != r.received.student_number:
                raise PermanentMessageError(
                    f"transfer {r.reference}: no archive was handed over from here"
                )
            if r.ctx.envelope.source != UnitRef(tier=Tier.PROVINCE, code=handover.to_province):
                raise NotAParty(
                    f"{r.ctx.envelope.source} confirms the receipt of an archive handed over "
                    f"to province {handover.to_province}"
                )
        await handovers.mark_received_many(list(made.values()), now)


# --- runs --------------------------------------------------------------------------------


class _Item(Protocol):
    @property
    def ctx(self) -> HandlerContext: ...

    @property
    def reference(self) -> str: ...


class _Student(_Item, Protocol):
    @property
    def student_number(self) -> str: ...


_I = TypeVar("_I", bound=_Item)
_T = TypeVar("_T")


def _reference(item: _Item) -> str:
    return item.reference


def _student_number(item: _Student) -> str:
    return item.student_number


def _by_province(items: Sequence[_I]) -> dict[str, list[_I]]:
    """The run's messages by the province they are addressed to (an instance may host
    several), in delivery order."""
    groups: dict[str, list[_I]] = {}
    for item in items:
        groups.setdefault(item.ctx.unit.code, []).append(item)
    return groups


def _once(items: Sequence[_T], key: Callable[[_T], str]) -> list[_T]:
    """The first message of each transfer (a copy later in the run changes nothing)."""
    first: dict[str, _T] = {}
    for item in items:
        first.setdefault(key(item), item)
    return list(first.values())


def _rounds(items: Sequence[_T], key: Callable[[_T], str]) -> list[list[_T]]:
    """Split so that each student appears once per round, rounds in delivery order (nearly
    always a single round)."""
    rounds: list[list[_T]] = []
    seen: Counter[str] = Counter()
    for item in items:
        turn = seen[key(item)]
        seen[key(item)] += 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(item)
    return rounds
