"""Every query of the transfer saga. The student is claimed and released with conditional
UPDATEs (the row count says who won); the deadline sweep marks steps set-based with
``UPDATE ... RETURNING`` so a step is reminded or reported overdue exactly once, even when two
sweeps run at the same time (SQLite >= 3.35 and PostgreSQL both return the rows).

The saga's hot path (a request: exists, claim, add; a decision: load, save, move or release)
runs statements built once, at import, with named bind parameters, and executed with a
parameter dict: building a statement and computing its cache key cost more CPU than running
it (decision 0019). Most are Core: the steps are read as rows, and
:meth:`TransferRepository.save` writes only the rows the state machine changed since they were
read (what the database holds is remembered in the session, per transfer), the transfer's ORM
object kept in step with what was written. The claim and its release keep the session's
registry entries in step the same way (see :func:`_sync_entries`). Deadline sweeps and lists
run rarely and build their statements inline.

A run of decisions (one delivery batch) is applied set-based: :meth:`TransferRepository.lock_many`
reads all its transfers and steps in two statements, and a repository given :class:`HeldWrites`
holds what ``add``, ``save``, ``release`` and ``move_registration`` would write until
:meth:`TransferRepository.flush` writes it all at once (an ``executemany`` per table, one
UPDATE for the releases and one for the moves), so that the statements of a run do not grow
with its length (decision 0019). A run of requests reads which of its transfer ids exist in one
statement (:meth:`TransferRepository.existing`) and claims its students in one conditional
UPDATE (:meth:`TransferRepository.claim_many`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.national.adapters.orm import RegistryEntry, TransferRecord, TransferStepRecord
from services.national.domain.transfer import (
    Decision,
    Step,
    StepState,
    Transfer,
    TransferState,
)

OPEN = StepState.OPEN.value
_REGISTRY: Table = RegistryEntry.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class LoadedTransfer:
    """A transfer as stored (``record``: its facts) and as the state machine sees it."""

    record: TransferRecord
    saga: Transfer


@dataclass(frozen=True)
class StepRow:
    """An open step with its transfer and student, as the sweep and the overdue list need it."""

    step: TransferStepRecord
    transfer: TransferRecord
    entry: RegistryEntry | None


def step_of(row: TransferStepRecord | Row[Any]) -> Step:
    decision = None
    if row.decided_at is not None:
        decision = Decision(
            approve=row.state == StepState.APPROVED,
            decided_by=row.decided_by or "",
            decided_unit=row.decided_unit or "",
            decided_at=row.decided_at,
            intervention=row.intervention,
            reason=row.reason,
            rule=row.rule,
        )
    return Step(
        step_id=row.step_id,
        seq=row.seq,
        role=row.role,
        party_unit=row.party_unit,
        superior_unit=row.superior_unit,
        state=StepState(row.state),
        opened_on=row.opened_on,
        due_on=row.due_on,
        due_approximate=row.due_approximate,
        reminded_at=row.reminded_at,
        overdue_notified_at=row.overdue_notified_at,
        decision=decision,
    )


def saga_of(record: TransferRecord, steps: Iterable[TransferStepRecord | Row[Any]]) -> Transfer:
    return Transfer(
        transfer_id=record.transfer_id,
        student_number=record.student_number,
        from_school=record.from_school,
        to_school=record.to_school,
        steps=[step_of(s) for s in sorted(steps, key=lambda s: s.seq)],
        state=TransferState(record.state),
        closing_rule=record.closing_rule,
        closing_reason=record.closing_reason,
        ended_at=record.completed_at or record.closed_at,
        archive_due_on=record.archive_due_on,
    )


def _step_values(step: Step) -> dict[str, Any]:
    """The columns the state machine changes (never reminded_at / overdue_notified_at: the
    sweep owns those, so a decision never overwrites them)."""
    decision = step.decision
    return {
        "state": step.state.value,
        "opened_on": step.opened_on,
        "due_on": step.due_on,
        "due_approximate": step.due_approximate,
        "decided_at": decision.decided_at if decision else None,
        "decided_by": decision.decided_by if decision else None,
        "decided_unit": decision.decided_unit if decision else None,
        "intervention": decision.intervention if decision else False,
        "reason": decision.reason if decision else None,
        "rule": decision.rule if decision else None,
    }


def _transfer_values(saga: Transfer) -> dict[str, Any]:
    completed = saga.state is TransferState.COMPLETED
    return {
        "state": saga.state.value,
        "closing_rule": saga.closing_rule,
        "closing_reason": saga.closing_reason,
        "completed_at": saga.ended_at if completed else None,
        "closed_at": None if completed else saga.ended_at,
        "archive_due_on": saga.archive_due_on,
    }


_TRANSFER: Table = TransferRecord.__table__  # type: ignore[assignment]
_STEP: Table = TransferStepRecord.__table__  # type: ignore[assignment]
_TRANSFER_STATE = tuple(_transfer_values(Transfer("", "", "", "")))
_STEP_STATE = tuple(_step_values(Step("", 0, "", "", "")))
# Built once: executing a prepared statement skips building and cache-keying it each time.
_SAVE_TRANSFER = (
    update(_TRANSFER)
    .where(_TRANSFER.c.transfer_id == bindparam("k_transfer_id"))
    .values({name: bindparam(f"v_{name}") for name in _TRANSFER_STATE})
)
_SAVE_STEP = (
    update(_STEP)
    .where(_STEP.c.step_id == bindparam("k_step_id"))
    .values({name: bindparam(f"v_{name}") for name in _STEP_STATE})
)
_LOAD_STEPS = select(_STEP).where(_STEP.c.transfer_id == bindparam("transfer_id"))
# ORM: the caller keeps the record (the session's object, in its identity map).
_LOAD_TRANSFER = select(TransferRecord).where(
    TransferRecord.transfer_id == bindparam("transfer_id")
)
_LOAD_TRANSFER_LOCKED = _LOAD_TRANSFER.with_for_update()
# A reader reading again: the row as the database holds it now, not as the session has it.
_READ_TRANSFER = _LOAD_TRANSFER.execution_options(populate_existing=True)
# A run's transfers, locked in the order of their ids: two runs sharing transfers never wait
# for each other in a cycle (PostgreSQL locks the rows as the sorted result is produced).
_LOCK_TRANSFERS = (
    select(TransferRecord)
    .where(TransferRecord.transfer_id.in_(bindparam("transfer_ids", expanding=True)))
    .order_by(TransferRecord.transfer_id)
    .with_for_update()
)
_LOAD_STEPS_OF = select(_STEP).where(
    _STEP.c.transfer_id.in_(bindparam("transfer_ids", expanding=True))
)
# ORM-enabled like the load, so it flushes the session's pending objects first as before.
_EXISTING = select(TransferRecord.transfer_id).where(
    TransferRecord.transfer_id.in_(bindparam("transfer_ids", expanding=True))
)
_ADD_TRANSFER = insert(_TRANSFER)
_ADD_STEPS = insert(_STEP)
# The k_ / v_ prefixes: a SET column's own name is reserved for the parameter SQLAlchemy
# generates for it, so neither the WHERE nor the SET may use it.
# The claim of one student (a run of one: the usual case, so built once); a run's claim of
# several is built per run (see _claim_many). RETURNING names the students this UPDATE claimed.
_CLAIM = (
    update(_REGISTRY)
    .where(
        _REGISTRY.c.student_number == bindparam("k_student_number"),
        _REGISTRY.c.active_transfer_id.is_(None),
    )
    .values(active_transfer_id=bindparam("v_active_transfer_id"))
    .returning(_REGISTRY.c.student_number)
)
_RELEASE = (
    update(_REGISTRY)
    .where(_REGISTRY.c.active_transfer_id == bindparam("k_transfer_id"))
    .values(active_transfer_id=None)
)
_RELEASE_MANY = (
    update(_REGISTRY)
    .where(_REGISTRY.c.active_transfer_id.in_(bindparam("k_transfer_ids", expanding=True)))
    .values(active_transfer_id=None)
)
_MOVED = ("school_code", "province_code", "grade", "updated_at")
_MOVE_REGISTRATION = (
    update(_REGISTRY)
    .where(_REGISTRY.c.active_transfer_id == bindparam("k_transfer_id"))
    .values({name: bindparam(f"v_{name}") for name in _MOVED} | {"active_transfer_id": None})
)
# session.info: {transfer id: (its ORM record, {row key: the state columns as stored})}
_STORED = "xueji.transfer.stored"


@dataclass
class _Stored:
    record: TransferRecord
    values: dict[str, tuple[Any, ...]]  # transfer id and step ids -> stored state columns


def _stored(session: AsyncSession) -> dict[str, _Stored]:
    found: dict[str, _Stored] = session.info.setdefault(_STORED, {})
    return found


@dataclass
class HeldWrites:
    """What a run of messages changed, held for :meth:`TransferRepository.flush`: the new
    transfers and their steps (rows to insert), the state columns per transfer and per step
    (the latest wins: they are whole states), the transfers whose student is released, and
    the moves of registrations (values per transfer)."""

    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    moves: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: list[dict[str, Any]] = field(default_factory=list)
    added_steps: list[Mapping[str, Any]] = field(default_factory=list)

    def take(self) -> HeldWrites:
        """Hand over what is held, and hold nothing from now on."""
        taken = HeldWrites(
            self.transfers, self.steps, self.released, self.moves, self.added, self.added_steps
        )
        self.transfers, self.steps, self.released, self.moves = {}, {}, [], {}
        self.added, self.added_steps = [], []
        return taken


class TransferRepository:
    """The national database, seen through the questions the transfer saga asks."""

    def __init__(self, session: AsyncSession, held: HeldWrites | None = None) -> None:
        self.session = session
        self.held = held  # given: writes wait for flush() (a run of decisions)

    # -- the registry's hold on the student ------------------------------------------------

    async def claim_many(self, claims: Mapping[str, str]) -> set[str]:
        """Make each transfer (``{student number: transfer id}``) its student's active
        transfer unless another one is, in one conditional UPDATE (``… WHERE student_number
        IN … AND active_transfer_id IS NULL RETURNING student_number``); returns the students
        it claimed. Of two concurrent claims of a student exactly one gets the row: on
        PostgreSQL the second waits for the first's row lock, then finds the student held and
        skips the row; on SQLite the writers are serialised. Two runs meet their shared
        students in one order (the index's, an ``IN`` list's keys scanned sorted); a deadlock
        all the same would abort one transaction, whose batch the consumer then applies
        message by message."""
        if not claims:
            return set()
        if len(claims) == 1:
            [(number, transfer_id)] = claims.items()
            params = {"k_student_number": number, "v_active_transfer_id": transfer_id}
            claimed = set((await self.session.execute(_CLAIM, params)).scalars())
        else:
            claimed = set((await self.session.execute(_claim_many(claims))).scalars())
        _sync_entries(
            self.session,
            lambda e: e["student_number"] in claims and e["active_transfer_id"] is None,
            lambda e: claims[e["student_number"]],
        )
        return claimed

    async def release(self, transfer_id: str) -> None:
        if self.held is not None:
            self.held.released.append(transfer_id)
        else:
            await self.session.execute(_RELEASE, {"k_transfer_id": transfer_id})
        _sync_entries(self.session, lambda e: e["active_transfer_id"] == transfer_id, None)

    async def move_registration(
        self,
        transfer_id: str,
        school_code: str,
        province_code: str,
        grade: int,
        now: datetime,
        entry: RegistryEntry | None = None,
    ) -> bool:
        """Register the student at the receiving school and release the claim, in one
        statement: there is never a committed moment with two schools or none. ``entry``,
        the session's object of the student's entry, is given the values written. Held, the
        move counts as done: :meth:`flush` raises if the student was not held after all."""
        values = {
            "school_code": school_code,
            "province_code": province_code,
            "grade": grade,
            "updated_at": now,
        }
        if self.held is not None:
            self.held.moves[transfer_id] = values
            moved = True
        else:
            params = {f"v_{k}": v for k, v in values.items()} | {"k_transfer_id": transfer_id}
            result = await self.session.execute(_MOVE_REGISTRATION, params)
            moved = _rowcount(result) == 1
        if moved and entry is not None and entry.active_transfer_id == transfer_id:
            for name, value in (values | {"active_transfer_id": None}).items():
                set_committed_value(entry, name, value)
        return moved

    # -- transfers -------------------------------------------------------------------------

    async def existing(self, transfer_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``transfer_ids`` are stored already: one statement."""
        params = {"transfer_ids": sorted(str(t) for t in transfer_ids)}
        return {uuid.UUID(t) for t in await self.session.scalars(_EXISTING, params)}

    async def add(self, record: TransferRecord, steps: Sequence[Mapping[str, Any]]) -> None:
        """Insert a new transfer and its steps (Core: the record stays a plain object);
        held, they are inserted by :meth:`flush`, with the run's other new transfers."""
        row = {c.key: getattr(record, c.key) for c in _TRANSFER.columns}
        if self.held is not None:
            self.held.added.append(row)
            self.held.added_steps.extend(steps)
        else:
            await self.session.execute(_ADD_TRANSFER, row)
            if steps:
                await self.session.execute(_ADD_STEPS, list(steps))
        values = {record.transfer_id: tuple(getattr(record, n) for n in _TRANSFER_STATE)}
        values |= {row["step_id"]: tuple(row[n] for n in _STEP_STATE) for row in steps}
        _stored(self.session)[record.transfer_id] = _Stored(record, values)

    async def load(self, transfer_id: uuid.UUID, *, lock: bool = False) -> LoadedTransfer | None:
        """The transfer and its steps; ``lock`` holds its row until commit (PostgreSQL), so
        decisions, cancellations and stops of one transfer happen one after the other."""
        key = {"transfer_id": str(transfer_id)}  # stored as text
        if lock:
            record = (await self.session.scalars(_LOAD_TRANSFER_LOCKED, key)).one_or_none()
            if record is None:
                return None
            return self._loaded(record, (await self.session.execute(_LOAD_STEPS, key)).all())
        # Without the lock (a reader), two statements may straddle a commit (PostgreSQL, read
        # committed): steps first, so that the transfer's state is the newer of the two (never
        # "in progress" with no step open any more). The commit straddled may be the one that
        # created the transfer with its steps: in progress with no step at all, read again.
        steps, record = await self._read(key)
        if record is not None and not steps and record.state == TransferState.IN_PROGRESS:
            steps, record = await self._read(key)
        return None if record is None else self._loaded(record, steps)

    async def _read(self, key: dict[str, str]) -> tuple[Sequence[Row[Any]], TransferRecord | None]:
        """A reader's steps, then its transfer (as the database holds it now, not as an earlier
        read of this session left it)."""
        steps = (await self.session.execute(_LOAD_STEPS, key)).all()
        return steps, (await self.session.scalars(_READ_TRANSFER, key)).one_or_none()

    async def lock_many(
        self, transfer_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, LoadedTransfer]:
        """:meth:`load` with ``lock`` for many transfers, in two statements; those that exist,
        by id. The rows are locked in the order of their ids (no deadlock between runs)."""
        params = {"transfer_ids": sorted(str(t) for t in transfer_ids)}
        records = list(await self.session.scalars(_LOCK_TRANSFERS, params))
        steps: dict[str, list[Row[Any]]] = {r.transfer_id: [] for r in records}
        if records:
            for row in await self.session.execute(_LOAD_STEPS_OF, params):
                steps[row.transfer_id].append(row)
        return {uuid.UUID(r.transfer_id): self._loaded(r, steps[r.transfer_id]) for r in records}

    def _loaded(self, record: TransferRecord, steps: Sequence[Row[Any]]) -> LoadedTransfer:
        """Remember what the database holds (for :meth:`save`) and build the state machine."""
        values = {record.transfer_id: tuple(getattr(record, n) for n in _TRANSFER_STATE)}
        values |= {row.step_id: tuple(getattr(row, n) for n in _STEP_STATE) for row in steps}
        _stored(self.session)[record.transfer_id] = _Stored(record, values)
        return LoadedTransfer(record, saga_of(record, steps))

    async def save(self, saga: Transfer) -> None:
        """Write what the state machine changed: the transfer and those of its (few) steps
        whose state differs from what the database holds (all of them if unknown)."""
        stored = _stored(self.session).get(saga.transfer_id)
        known = stored.values if stored is not None else {}
        state = _transfer_values(saga)
        if known.get(saga.transfer_id) != tuple(state.values()):
            params = {f"v_{k}": v for k, v in state.items()} | {"k_transfer_id": saga.transfer_id}
            if self.held is not None:
                self.held.transfers[saga.transfer_id] = params
            else:
                await self.session.execute(_SAVE_TRANSFER, params)
            known[saga.transfer_id] = tuple(state.values())
            if stored is not None:  # the session's object says what the row says
                for name, value in state.items():
                    set_committed_value(stored.record, name, value)
        changed = []
        for step in saga.steps:
            values = _step_values(step)
            if known.get(step.step_id) != tuple(values.values()):
                changed.append(
                    {f"v_{k}": v for k, v in values.items()} | {"k_step_id": step.step_id}
                )
                known[step.step_id] = tuple(values.values())
        if self.held is not None:
            self.held.steps |= {row["k_step_id"]: row for row in changed}
        elif changed:
            await self.session.execute(_SAVE_STEP, changed)

    async def flush(self) -> None:
        """Write the held writes: at most one statement each for the new transfers, their
        steps, the transfers' and steps' changes, the releases and the moves. Raises if a move
        found no student held by its transfer (as :meth:`move_registration`'s caller would
        have)."""
        if self.held is None:
            return
        held = self.held.take()
        if held.added:
            await self.session.execute(_ADD_TRANSFER, held.added)
        if held.added_steps:
            await self.session.execute(_ADD_STEPS, held.added_steps)
        if held.transfers:
            await self.session.execute(_SAVE_TRANSFER, list(held.transfers.values()))
        if held.steps:
            await self.session.execute(_SAVE_STEP, list(held.steps.values()))
        if held.released:
            await self.session.execute(_RELEASE_MANY, {"k_transfer_ids": held.released})
        if held.moves:
            result = await self.session.execute(_move_many(held.moves))
            if _rowcount(result) != len(held.moves):
                raise RuntimeError(
                    f"of transfers {sorted(held.moves)} completed, only {_rowcount(result)} "
                    "held their student"
                )

    async def of_student(
        self, student_number: str, entry_id: str | None = None
    ) -> list[LoadedTransfer]:
        """A student's transfers, newest first (two queries): by the number asked for and,
        when the registry knows the student, by the entry (a number changed since, L → G).
        Steps first, then the transfers, as :meth:`load` reads them: a transfer's state is
        never older than its steps (in progress with every step decided); one created between
        the two reads (in progress with no step) is read again."""
        who = TransferRecord.student_number == student_number
        if entry_id is not None:
            who = or_(who, TransferRecord.entry_id == entry_id)
        records, steps = await self._read_of_student(who)
        if any(
            r.state == TransferState.IN_PROGRESS and r.transfer_id not in steps for r in records
        ):
            records, steps = await self._read_of_student(who)
        return [LoadedTransfer(r, saga_of(r, steps.get(r.transfer_id, []))) for r in records]

    async def _read_of_student(
        self, who: Any
    ) -> tuple[list[TransferRecord], dict[str, list[TransferStepRecord]]]:
        ids = select(TransferRecord.transfer_id).where(who).scalar_subquery()
        steps: dict[str, list[TransferStepRecord]] = {}
        for step in await self.session.scalars(
            select(TransferStepRecord)
            .where(TransferStepRecord.transfer_id.in_(ids))
            .execution_options(populate_existing=True)
        ):
            steps.setdefault(step.transfer_id, []).append(step)
        records = await self.session.scalars(
            select(TransferRecord)
            .where(who)
            .order_by(TransferRecord.created_at.desc())
            .execution_options(populate_existing=True)
        )
        return list(records), steps

    # -- deadlines -------------------------------------------------------------------------

    async def to_remind(self, as_of: date, latest_due: date) -> list[StepRow]:
        """Open steps not yet reminded nor overdue, due from ``as_of`` to ``latest_due``."""
        return await self._open_steps(
            TransferStepRecord.reminded_at.is_(None),
            TransferStepRecord.overdue_notified_at.is_(None),
            TransferStepRecord.due_on >= as_of,
            TransferStepRecord.due_on <= latest_due,
        )

    async def newly_overdue(self, as_of: date) -> list[StepRow]:
        """Open steps past their due date whose superior has not been told yet."""
        return await self._open_steps(
            TransferStepRecord.overdue_notified_at.is_(None), TransferStepRecord.due_on < as_of
        )

    async def overdue_for(self, unit: str, as_of: date) -> list[StepRow]:
        """Open steps past due whose party or superior is ``unit``, oldest due first."""
        return await self._open_steps(
            or_(TransferStepRecord.party_unit == unit, TransferStepRecord.superior_unit == unit),
            TransferStepRecord.due_on < as_of,
        )

    async def mark_reminded(self, step_ids: Collection[str], now: datetime) -> set[str]:
        """Mark the steps reminded; returns those this call marked (not another sweep)."""
        column = TransferStepRecord.reminded_at
        return await self._mark(step_ids, column.is_(None), {"reminded_at": now})

    async def mark_overdue_notified(self, step_ids: Collection[str], now: datetime) -> set[str]:
        column = TransferStepRecord.overdue_notified_at
        return await self._mark(step_ids, column.is_(None), {"overdue_notified_at": now})

    async def open_step_counts(self, as_of: date) -> dict[str, tuple[int, int]]:
        """``{party unit: (open steps, of which overdue)}`` in one grouped query."""
        overdue = func.sum(case((TransferStepRecord.due_on < as_of, 1), else_=0))
        rows = await self.session.execute(
            select(TransferStepRecord.party_unit, func.count(), overdue)
            .where(TransferStepRecord.state == OPEN)
            .group_by(TransferStepRecord.party_unit)
        )
        return {unit: (int(count), int(late or 0)) for unit, count, late in rows}

    # -- helpers ---------------------------------------------------------------------------

    async def _open_steps(self, *conditions: Any) -> list[StepRow]:
        query = (
            select(TransferStepRecord, TransferRecord, RegistryEntry)
            .join(TransferRecord, TransferRecord.transfer_id == TransferStepRecord.transfer_id)
            .outerjoin(RegistryEntry, RegistryEntry.entry_id == TransferRecord.entry_id)
            .where(TransferStepRecord.state == OPEN, *conditions)
            .order_by(TransferStepRecord.due_on, TransferStepRecord.step_id)
        )
        rows = await self.session.execute(query)
        return [StepRow(step, transfer, entry) for step, transfer, entry in rows]

    async def _mark(
        self, step_ids: Collection[str], unmarked: Any, values: Mapping[str, Any]
    ) -> set[str]:
        if not step_ids:
            return set()
        result = await self.session.execute(
            update(TransferStepRecord)
            .where(
                TransferStepRecord.step_id.in_(step_ids),
                TransferStepRecord.state == OPEN,
                unmarked,
            )
            .values(**values)
            .returning(TransferStepRecord.step_id)
        )
        return set(result.scalars())


def _sync_entries(
    session: AsyncSession,
    matches: Callable[[Mapping[str, Any]], bool],
    transfer_id: str | Callable[[Mapping[str, Any]], str] | None,
) -> None:
    """Set ``active_transfer_id`` (as committed; ``transfer_id`` may be a function of the
    entry's loaded columns) on the session's registry entries whose loaded columns match the
    UPDATE just run, whatever its row count: what the ORM's UPDATE did for them ("evaluate"
    synchronization) when the claim and the release were built per call. A prebuilt ORM
    UPDATE would not: the ORM evaluates bind parameters by their value at construction.
    Callers read the entry afterwards (a status change, after stopping the student's
    transfer, asks whether the student is still held)."""
    for state in list(session.identity_map.all_states()):
        if state.class_ is not RegistryEntry or state.expired:
            continue
        loaded = state.dict
        if not {"student_number", "active_transfer_id"} <= loaded.keys():
            continue
        if matches(loaded) and "active_transfer_id" in state.unmodified:
            value = transfer_id(loaded) if callable(transfer_id) else transfer_id
            set_committed_value(state.obj(), "active_transfer_id", value)


def _claim_many(claims: Mapping[str, str]) -> Any:
    """The claim of several students, each for its transfer (``CASE student_number …``):
    one statement whose RETURNING says who was claimed, where an ``executemany`` of
    :data:`_CLAIM` would be a statement per student (RETURNING is not kept across an
    ``executemany`` of an UPDATE). Built per run: its shape depends on the run."""
    key = _REGISTRY.c.student_number
    held_by = case(
        {n: literal(t, _REGISTRY.c.active_transfer_id.type) for n, t in claims.items()},
        value=key,
    )
    return (
        update(_REGISTRY)
        .where(key.in_(sorted(claims)), _REGISTRY.c.active_transfer_id.is_(None))
        .values(active_transfer_id=held_by)
        .returning(key)
    )


def _move_many(moves: Mapping[str, Mapping[str, Any]]) -> Any:
    """One UPDATE moving the registrations of several completed transfers (each its own
    values, chosen by ``CASE active_transfer_id``): its row count is checkable, where an
    ``executemany``'s is not (asyncpg). Built per run: its shape depends on the run."""
    key = _REGISTRY.c.active_transfer_id
    values = {
        name: case(
            {t: literal(m[name], _REGISTRY.c[name].type) for t, m in moves.items()}, value=key
        )
        for name in _MOVED
    }
    return (
        update(_REGISTRY).where(key.in_(list(moves))).values(values | {"active_transfer_id": None})
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
