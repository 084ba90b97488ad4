"""National's registry change log (decision 0043): who decided each change of a registration.

Every use case that changes registrations calls :func:`log_changes` once per batch with the
entries it changed: one ``INSERT … SELECT`` from ``registry_entry``, never a row per
statement. The decider is the officer an authority's approval names (``approver``), else —
for a message sent before approvals named their officer — the authority's unit, so that no
row is left without a party to answer for it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select
from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import RegistryChange, RegistryEntry
from shared.contracts.decider import Decider

REGISTERED = "registered"
KEY_FIELD_CHANGE = "key_field_change"
STATUS_CHANGE = "status_change"
GRADUATED = "graduated"
DUPLICATE_RESOLVED = "duplicate_resolved"
PROGRESSED = "progressed"  # the last approving step's officer completed the progression
SCHOOL_MERGED = "school_merged"


def decider_or_unit(decider: Decider | None, authority: str) -> Decider:
    """The approval's decider; for an approval from before decision 0043, its unit alone."""
    return decider if decider is not None else Decider(account=authority, unit=authority)


async def log_changes(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: str | None,
    decider: Decider,
    at: datetime,
    where: ColumnElement[bool],
) -> None:
    """One row per registry entry matching ``where``, in one statement."""
    columns = [
        RegistryEntry.entry_id,
        RegistryEntry.student_number,
        literal(kind).label("kind"),
        literal(subject_id).label("subject_id"),
        RegistryEntry.school_code,
        literal(decider.account).label("decided_by"),
        literal(decider.unit).label("decided_unit"),
        literal(decider.rule).label("decided_rule"),
        literal(at).label("recorded_at"),
    ]
    names = [
        "entry_id",
        "student_number",
        "kind",
        "subject_id",
        "school_code",
        "decided_by",
        "decided_unit",
        "decided_rule",
        "recorded_at",
    ]
    source = select(*columns).where(where)
    await session.execute(sql_insert(RegistryChange).from_select(names, source))


def numbers_in(numbers: Collection[str]) -> ColumnElement[bool]:
    return RegistryEntry.student_number.in_(list(numbers))


def registrations_in(registration_ids: Collection[str]) -> ColumnElement[bool]:
    return RegistryEntry.registration_id.in_(list(registration_ids))


def entries_in(entry_ids: Collection[str]) -> ColumnElement[bool]:
    return RegistryEntry.entry_id.in_(list(entry_ids))


@dataclass(frozen=True)
class ChangeRead:
    kind: str
    subject_id: str | None
    student_number: str
    school_code: str
    decided_by: str
    decided_unit: str
    decided_rule: str | None
    recorded_at: datetime


async def changes_of(session: AsyncSession, entry_id: str, limit: int = 500) -> list[ChangeRead]:
    """A registration's change log, oldest first (index ``ix_registry_change_entry``)."""
    rows = await session.execute(
        select(RegistryChange)
        .where(RegistryChange.entry_id == entry_id)
        .order_by(RegistryChange.change_id)
        .limit(limit)
    )
    return [_read(row) for row in rows.scalars()]


def _read(row: Any) -> ChangeRead:
    return ChangeRead(
        kind=row.kind,
        subject_id=row.subject_id,
        student_number=row.student_number,
        school_code=row.school_code,
        decided_by=row.decided_by,
        decided_unit=row.decided_unit,
        decided_rule=row.decided_rule,
        recorded_at=row.recorded_at,
    )
