"""Every query of a progression (升学) batch: set-based, a fixed number of statements per
request or decision whatever the cohort's size (chunks of 500 values where a list is bound).

The cohort is held with the transfer's own claim (``registry_entry.active_transfer_id`` =
the progression id, one conditional UPDATE per chunk): a student in a progression cannot be
transferred, graduated again or changed meanwhile, and two progressions cannot both take a
student. The claim is released, or the registry moved, by ``active_transfer_id`` (its partial
index ``ix_registry_entry_held``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Table, and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import (
    ProgressionItem,
    ProgressionRecord,
    ProgressionStepRecord,
    RegistryEntry,
)
from services.national.domain.progression import Graduate
from services.national.domain.transfer import Decision, Step, StepState, Transfer, TransferState

_entry: Table = RegistryEntry.__table__  # type: ignore[assignment]
_progression: Table = ProgressionRecord.__table__  # type: ignore[assignment]
_step: Table = ProgressionStepRecord.__table__  # type: ignore[assignment]
_item: Table = ProgressionItem.__table__  # type: ignore[assignment]
_CHUNK = 500
_T = TypeVar("_T")

PENDING = "pending"


@dataclass(frozen=True)
class Found:
    """A registry entry a request named, as the verdicts and the messages need it."""

    entry: Row[Any]

    @property
    def graduate(self) -> Graduate:
        e = self.entry
        track = "yi" if e.yi_track else None  # the registry's 一类模式 attribute (LS 6)
        return Graduate(
            e.student_number, e.school_code, e.status, e.grade, e.active_transfer_id, track
        )


@dataclass
class Loaded:
    """A progression as stored (``record``: its row) and its steps as the transfer's state
    machine drives them (``saga``)."""

    record: Row[Any]
    saga: Transfer


def chunks(values: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ProgressionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the registry ----------------------------------------------------------------------

    async def cohort(self, school_code: str, year: int) -> list[Row[Any]]:
        """Every leaver of a school in a year still registered there (by
        ``ix_registry_entry_leavers``)."""
        rows = await self.session.execute(
            select(_entry).where(
                _entry.c.school_code == school_code, _entry.c.graduation_year == year
            )
        )
        return list(rows)

    async def by_numbers(self, numbers: Sequence[str]) -> dict[str, Row[Any]]:
        found: dict[str, Row[Any]] = {}
        for chunk in chunks(numbers):
            rows = await self.session.execute(
                select(_entry).where(_entry.c.student_number.in_(chunk))
            )
            found |= {row.student_number: row for row in rows}
        return found

    async def by_id_numbers(self, id_numbers: Sequence[str]) -> dict[str, Row[Any]]:
        """Resident IDs (``uq_registry_entry_document``)."""
        found: dict[str, Row[Any]] = {}
        for chunk in chunks(id_numbers):
            rows = await self.session.execute(
                select(_entry).where(
                    _entry.c.id_number.in_(chunk), _entry.c.id_type == "resident_id"
                )
            )
            found |= {row.id_number: row for row in rows}
        return found

    async def claim(self, progression_id: str, entry_ids: Sequence[str]) -> set[str]:
        """Hold the entries for this progression unless a transfer or another progression
        does; the entries it holds now."""
        for chunk in chunks(entry_ids):
            await self.session.execute(
                update(_entry)
                .where(_entry.c.entry_id.in_(chunk), _entry.c.active_transfer_id.is_(None))
                .values(active_transfer_id=progression_id)
            )
        return await self.held(progression_id)

    async def held(self, progression_id: str) -> set[str]:
        rows = await self.session.execute(
            select(_entry.c.entry_id).where(_entry.c.active_transfer_id == progression_id)
        )
        return {row.entry_id for row in rows}

    async def release(self, progression_id: str, entry_ids: Sequence[str] | None = None) -> None:
        """Let go of some held entries (left out by a party), or all of them (rejected)."""
        condition = _entry.c.active_transfer_id == progression_id
        if entry_ids is None:
            await self.session.execute(
                update(_entry).where(condition).values(active_transfer_id=None)
            )
            return
        for chunk in chunks(entry_ids):
            await self.session.execute(
                update(_entry)
                .where(condition, _entry.c.entry_id.in_(chunk))
                .values(active_transfer_id=None)
            )

    async def move(
        self, progression_id: str, to_school: str, to_province: str, grade: int, now: datetime
    ) -> int:
        """Every held entry enrolled at the receiving school in its first grade, the claim
        released: one UPDATE. The rows moved."""
        result = await self.session.execute(
            update(_entry)
            .where(_entry.c.active_transfer_id == progression_id)
            .values(
                school_code=to_school,
                province_code=to_province,
                grade=grade,
                status="enrolled",
                active_transfer_id=None,
                updated_at=now,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def held_entries(self, progression_id: str) -> list[Row[Any]]:
        rows = await self.session.execute(
            select(_entry)
            .where(_entry.c.active_transfer_id == progression_id)
            .order_by(_entry.c.student_number)
        )
        return list(rows)

    # -- the saga --------------------------------------------------------------------------

    async def exists(self, progression_id: str) -> bool:
        found = await self.session.execute(
            select(_progression.c.progression_id).where(
                _progression.c.progression_id == progression_id
            )
        )
        return found.first() is not None

    async def add(
        self, record: Mapping[str, Any], items: Sequence[Mapping[str, Any]], saga: Transfer
    ) -> None:
        await self.session.execute(insert(_progression), [dict(record)])
        if items:
            await self.session.execute(insert(_item), [dict(i) for i in items])
        if saga.steps:
            await self.session.execute(
                insert(_step), [_step_row(saga.transfer_id, s) for s in saga.steps]
            )

    async def load(self, progression_id: str, *, lock: bool) -> Loaded | None:
        query = select(_progression).where(_progression.c.progression_id == progression_id)
        record = (await self.session.execute(query.with_for_update() if lock else query)).first()
        if record is None:
            return None
        rows = await self.session.execute(
            select(_step).where(_step.c.progression_id == progression_id).order_by(_step.c.seq)
        )
        saga = Transfer(
            record.progression_id,
            "",
            record.from_school,
            record.to_school,
            steps=[_step_of(row) for row in rows],
            state=TransferState(record.state),
        )
        return Loaded(record, saga)

    async def save(self, loaded: Loaded, values: Mapping[str, Any] | None = None) -> None:
        """The progression's state (and ``values``) and every step as the machine left it."""
        saga = loaded.saga
        await self.session.execute(
            update(_progression)
            .where(_progression.c.progression_id == saga.transfer_id)
            .values(
                state=saga.state.value,
                closing_rule=saga.closing_rule,
                closing_reason=saga.closing_reason,
                closed_at=saga.ended_at,
                archive_due_on=saga.archive_due_on,
                **(values or {}),
            )
        )
        await self.session.execute(
            update(_step)
            .where(_step.c.step_id == bindparam("k_step_id"))
            .values({name: bindparam(f"v_{name}") for name in _STEP_FIELDS}),
            [_step_values(s) for s in saga.steps],
        )

    async def mark_overdue(self, as_of: date, now: datetime) -> list[Row[Any]]:
        """Open steps past their due date not reported yet, marked reported by one
        ``UPDATE ... RETURNING`` (a second sweep marks none of them again); with their
        progression's schools, grade and correlation."""
        marked = await self.session.execute(
            update(_step)
            .where(
                _step.c.state == StepState.OPEN.value,
                _step.c.due_on < as_of,
                _step.c.overdue_notified_at.is_(None),
            )
            .values(overdue_notified_at=now)
            .returning(_step.c.step_id)
        )
        ids = [row.step_id for row in marked]
        if not ids:
            return []
        rows = await self.session.execute(
            select(_step, _progression.c.from_school, _progression.c.to_school)
            .add_columns(_progression.c.grade, _progression.c.correlation_id)
            .join(_progression, _progression.c.progression_id == _step.c.progression_id)
            .where(_step.c.step_id.in_(ids))
        )
        return list(rows)

    async def held_count(self, progression_id: str) -> int:
        return len(await self.held(progression_id))

    # -- the items -------------------------------------------------------------------------

    async def items(self, progression_id: str) -> list[Row[Any]]:
        rows = await self.session.execute(
            select(_item).where(_item.c.progression_id == progression_id).order_by(_item.c.named)
        )
        return list(rows)

    async def settle_items(
        self,
        progression_id: str,
        outcome: str,
        *,
        rule: str | None = None,
        reason: str | None = None,
        article: str | None = None,
        named: Sequence[str] | None = None,
    ) -> None:
        """Pending items (``named`` ones, or all) get ``outcome``."""
        condition = and_(_item.c.progression_id == progression_id, _item.c.outcome == PENDING)
        values = {"outcome": outcome, "rule": rule, "reason": reason, "article": article}
        if named is None:
            await self.session.execute(update(_item).where(condition).values(**values))
            return
        for chunk in chunks(named):
            await self.session.execute(
                update(_item).where(condition, _item.c.student_number.in_(chunk)).values(**values)
            )


def _step_of(row: Row[Any]) -> Step:
    decision = None
    if row.decided_at is not None:
        decision = Decision(
            approve=row.state == StepState.APPROVED.value,
            decided_by=row.decided_by or "",
            decided_unit=row.decided_unit or "",
            decided_at=row.decided_at,
            intervention=bool(row.intervention),
            reason=row.reason,
        )
    return Step(
        row.step_id,
        row.seq,
        row.role,
        row.party_unit,
        row.superior_unit,
        state=StepState(row.state),
        opened_on=row.opened_on,
        due_on=row.due_on,
        due_approximate=bool(row.due_approximate),
        overdue_notified_at=row.overdue_notified_at,
        decision=decision,
    )


_STEP_FIELDS = (
    "state",
    "opened_on",
    "due_on",
    "due_approximate",
    "decided_at",
    "decided_by",
    "decided_unit",
    "intervention",
    "reason",
)


def _step_fields(step: Step) -> dict[str, Any]:
    d = step.decision
    return {
        "state": step.state.value,
        "opened_on": step.opened_on,
        "due_on": step.due_on,
        "due_approximate": step.due_approximate,
        "decided_at": d.decided_at if d else None,
        "decided_by": d.decided_by if d else None,
        "decided_unit": d.decided_unit if d else None,
        "intervention": d.intervention if d else False,
        "reason": d.reason if d else None,
    }


def _step_values(step: Step) -> dict[str, Any]:
    """Bind parameters of the step's UPDATE."""
    return {"k_step_id": step.step_id} | {f"v_{k}": v for k, v in _step_fields(step).items()}


def _step_row(progression_id: str, step: Step) -> dict[str, Any]:
    return {
        **_step_fields(step),
        "step_id": step.step_id,
        "progression_id": progression_id,
        "seq": step.seq,
        "role": step.role,
        "party_unit": step.party_unit,
        "superior_unit": step.superior_unit,
    }
