"""Every query of the desk's tables (set-based for batches).

The statements a submission, a transfer step and the task list run on every message or
request are built once per set of tables (:func:`_statements`; each hosting service has its
own ``DeskTables``) with named bind parameters and executed with a parameter dict:
building a statement and computing its cache key cost more CPU than running it (decision
0019). The rarely run ones stay inline.

Every write of a task touches its unit's task list version (``shared/db/list_versions.py``):
a poll of an unchanged list then answers 304 from that one row (decision 0020).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.domain import ItemStatus, Plan, TaskKind, TaskStatus
from components.approval_desk.tables import DeskTables
from shared.db import list_versions
from shared.federation.config import UnitRef

# The polled list whose version every task write bumps (scope: the deciding unit's reference).
TASK_LIST = "desk_task"

# Which of the task list's optional filters are given (status, kind, overdue_on, school_code)
# and whether it is sorted by due date.
_PageKey = tuple[bool, bool, bool, bool, bool]


class _Statements:
    """The hot statements over one ``DeskTables``, built once and reused by every
    repository and session. Bind parameters that share an UPDATE with a SET column are
    prefixed (``k_`` for the WHERE, ``v_`` for SET): SQLAlchemy reserves the column names."""

    def __init__(self, t: DeskTables) -> None:
        task = t.task
        self.task = task
        self.find_subject = select(task.c.task_id).where(
            task.c.unit == bindparam("unit"),
            task.c.kind == bindparam("kind"),
            task.c.subject_id == bindparam("subject_id"),
        )
        # a run's tasks of one kind among its units and subjects (the caller keeps the pairs)
        self.find_subjects = select(task.c.unit, task.c.subject_id).where(
            task.c.unit.in_(bindparam("units", expanding=True)),
            task.c.kind == bindparam("kind"),
            task.c.subject_id.in_(bindparam("subject_ids", expanding=True)),
        )
        self.insert_task = insert(task)
        self.insert_item = insert(t.item) if t.item is not None else None
        self.insert_proof = insert(t.proof) if t.proof is not None else None
        self.get = select(task).where(task.c.task_id == bindparam("task_id"))
        self.get_many = select(task).where(
            task.c.task_id.in_(bindparam("task_ids", expanding=True))
        )
        self.close = (
            update(task)
            .where(task.c.task_id == bindparam("k_task_id"), task.c.status == TaskStatus.OPEN)
            .values(
                status=bindparam("v_status"),
                decided_at=bindparam("v_decided_at"),
                decided_by=bindparam("v_decided_by"),
                reason=bindparam("v_reason"),
                rule=bindparam("v_rule"),
            )
            .returning(task.c.unit)
        )
        # The open tasks of several (unit, transfer) pairs made void at once (a run of
        # completions); RETURNING says which pairs had any, for the logs and list versions.
        self.void_transfers = (
            update(task)
            .where(
                tuple_(task.c.unit, task.c.transfer_id).in_(bindparam("k_pairs", expanding=True)),
                task.c.status == TaskStatus.OPEN,
            )
            .values(
                status=TaskStatus.VOID,
                decided_at=bindparam("v_decided_at"),
                decided_by=bindparam("v_decided_by"),
                reason=bindparam("v_reason"),
            )
            .returning(task.c.unit, task.c.transfer_id)
        )
        # One (rows, count) pair per combination of the list's filters, built when first used.
        self._pages: dict[_PageKey, tuple[Select[Any], Select[Any]]] = {}

    def page(self, key: _PageKey) -> tuple[Select[Any], Select[Any]]:
        """The page's statement and its count for the filters given (``unit``, ``limit``,
        ``offset`` always; ``status``, ``kind``, ``overdue_on``, ``school_code`` and the order
        as the key says)."""
        found = self._pages.get(key)
        if found is None:
            task = self.task
            with_status, with_kind, with_overdue, with_school, by_due = key
            conditions = [task.c.unit == bindparam("unit")]
            if with_status:
                conditions.append(task.c.status == bindparam("status"))
            if with_kind:
                conditions.append(task.c.kind == bindparam("kind"))
            if with_overdue:
                conditions.append(_overdue(task, bindparam("overdue_on")))
            if with_school:
                conditions.append(task.c.school_code == bindparam("school_code"))
            # by due date: the earliest first, tasks without one (a registration batch) after
            # them, oldest first
            order = (task.c.due_on.asc().nulls_last(),) if by_due else ()
            rows = (
                select(task)
                .where(*conditions)
                .order_by(*order, task.c.opened_at, task.c.task_id)
                .limit(bindparam("limit", type_=Integer))
                .offset(bindparam("offset", type_=BigInteger))  # up to SQL_INT_MAX
            )
            count = select(func.count()).select_from(task).where(*conditions)
            found = self._pages[key] = (rows, count)
        return found


@cache
def _statements(tables: DeskTables) -> _Statements:
    """The statements of ``tables``: one object per service's tables, for the process's life."""
    return _Statements(tables)


def _overdue(task: Any, today: Any) -> Any:
    """Open and past due on ``today`` (a date, or a bind parameter standing for one)."""
    return and_(task.c.status == TaskStatus.OPEN, task.c.due_on.is_not(None), task.c.due_on < today)


class TaskRepository:
    """Tasks, items and proofs of the units one service instance hosts."""

    def __init__(self, session: AsyncSession, tables: DeskTables) -> None:
        self.session = session
        self.t = tables
        self._s = _statements(tables)

    async def find_subject(
        self, unit: UnitRef, kind: TaskKind, subject_id: uuid.UUID
    ) -> uuid.UUID | None:
        """The task already opened for this submission, if any."""
        params = {"unit": unit, "kind": kind, "subject_id": subject_id}
        return (await self.session.execute(self._s.find_subject, params)).scalar_one_or_none()

    async def find_subjects(
        self, kind: TaskKind, wanted: Sequence[tuple[UnitRef, uuid.UUID]]
    ) -> set[tuple[UnitRef, uuid.UUID]]:
        """Which of the (unit, subject) pairs already have a task of ``kind`` (one statement,
        through the unique (unit, kind, subject) index)."""
        if not wanted:
            return set()
        params = {
            "units": sorted({unit for unit, _ in wanted}, key=str),
            "kind": kind,
            "subject_ids": sorted({subject for _, subject in wanted}),
        }
        rows = await self.session.execute(self._s.find_subjects, params)
        return {(row.unit, row.subject_id) for row in rows} & set(wanted)

    async def add_many(self, tasks: Sequence[Mapping[str, Any]]) -> None:
        """Insert tasks without items or proofs (one ``executemany``); each unit's list
        version is touched once."""
        if not tasks:
            return
        await self.session.execute(self._s.insert_task, [dict(task) for task in tasks])
        list_versions.touch(self.session, TASK_LIST, *{str(task["unit"]) for task in tasks})

    async def add(
        self,
        task: Mapping[str, Any],
        items: Sequence[Mapping[str, Any]] = (),
        proofs: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Insert a task with its items and proofs (one statement per table)."""
        await self.session.execute(self._s.insert_task, [dict(task)])
        list_versions.touch(self.session, TASK_LIST, str(task["unit"]))
        if items:
            await self.session.execute(_needed(self._s.insert_item), list(items))
        if proofs:
            await self.session.execute(_needed(self._s.insert_proof), list(proofs))

    async def get(self, task_id: uuid.UUID) -> Row[Any] | None:
        return (await self.session.execute(self._s.get, {"task_id": task_id})).one_or_none()

    async def get_many(self, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        """The tasks among ``task_ids`` that exist, by id (one statement)."""
        rows = await self.session.execute(self._s.get_many, {"task_ids": list(set(task_ids))})
        return {row.task_id: row for row in rows.all()}

    async def items(self, task_id: uuid.UUID) -> list[Row[Any]]:
        item = self.t.item
        if item is None:
            return []
        rows = await self.session.execute(
            select(item).where(item.c.task_id == task_id).order_by(item.c.position)
        )
        return list(rows.all())

    async def item_ids(self, task_id: uuid.UUID) -> list[uuid.UUID]:
        item = self.t.item
        if item is None:
            return []
        rows = await self.session.execute(
            select(item.c.registration_id)
            .where(item.c.task_id == task_id)
            .order_by(item.c.position)
        )
        return list(rows.scalars())

    async def proofs(self, task_id: uuid.UUID) -> list[Any]:
        """The proofs' descriptions, without their content."""
        proof = self.t.proof
        if proof is None:
            return []
        rows = await self.session.execute(
            select(proof.c.position, proof.c.kind, proof.c.filename, proof.c.size)
            .where(proof.c.task_id == task_id)
            .order_by(proof.c.position)
        )
        return list(rows.all())

    async def proof(self, task_id: uuid.UUID, position: int) -> Row[Any] | None:
        proof = self.t.proof
        if proof is None:
            return None
        return (
            await self.session.execute(
                select(proof).where(proof.c.task_id == task_id, proof.c.position == position)
            )
        ).one_or_none()

    async def page(
        self,
        unit: UnitRef,
        *,
        status: TaskStatus | None,
        kind: TaskKind | None,
        limit: int,
        offset: int,
        overdue_on: date | None = None,
        school_code: str | None = None,
        by_due: bool = False,
    ) -> tuple[list[Row[Any]], int]:
        """One page of a unit's tasks, oldest first (``by_due``: earliest due date first),
        and how many match in all; ``overdue_on`` keeps the tasks open and past their due
        date on that day, ``school_code`` those about one school."""
        filters = (
            status is not None,
            kind is not None,
            overdue_on is not None,
            school_code is not None,
            by_due,
        )
        statement, count = self._s.page(filters)
        # The filters not given have no parameter in the statement: their None is ignored.
        params = {
            "unit": unit,
            "status": status,
            "kind": kind,
            "overdue_on": overdue_on,
            "school_code": school_code,
        }
        rows = await self.session.execute(statement, {**params, "limit": limit, "offset": offset})
        total = await self.session.execute(count, params)
        return list(rows.all()), int(total.scalar_one())

    async def close(
        self,
        task_id: uuid.UUID,
        status: TaskStatus,
        *,
        at: datetime,
        by: str,
        reason: str | None,
        rule: str | None = None,
    ) -> bool:
        """Decide an open task; False when it was no longer open (someone decided first)."""
        params = {
            "k_task_id": task_id,
            "v_status": status,
            "v_decided_at": at,
            "v_decided_by": by,
            "v_reason": reason,
            "v_rule": rule,
        }
        unit = (await self.session.execute(self._s.close, params)).scalar_one_or_none()
        if unit is None:
            return False
        list_versions.touch(self.session, TASK_LIST, str(unit))
        return True

    async def void_transfer(
        self, unit: UnitRef, transfer_id: uuid.UUID, *, at: datetime, by: str, reason: str
    ) -> int:
        """Make every open task of a transfer at ``unit`` void; how many were."""
        return await self._void_open(unit, self.t.task.c.transfer_id == transfer_id, at, by, reason)

    async def void_transfers(
        self,
        pairs: Sequence[tuple[UnitRef, uuid.UUID]],
        *,
        at: datetime,
        by: str,
        reason: str,
    ) -> Counter[tuple[UnitRef, uuid.UUID]]:
        """:meth:`void_transfer` for several (unit, transfer) pairs in one statement: how many
        tasks each pair had open (pairs with none are absent)."""
        if not pairs:
            return Counter()
        params = {
            "k_pairs": list(dict.fromkeys(pairs)),
            "v_decided_at": at,
            "v_decided_by": by,
            "v_reason": reason,
        }
        rows = (await self.session.execute(self._s.void_transfers, params)).all()
        voided = Counter((row.unit, row.transfer_id) for row in rows)
        for unit in sorted({str(unit) for unit, _ in voided}):
            list_versions.touch(self.session, TASK_LIST, unit)
        return voided

    async def void_step(
        self, unit: UnitRef, step_id: uuid.UUID, *, at: datetime, by: str, reason: str
    ) -> int:
        """Make the open task(s) of one transfer step at ``unit`` void (the step task or the
        intervention task: both have the step id as subject); how many were."""
        return await self._void_open(unit, self.t.task.c.subject_id == step_id, at, by, reason)

    async def _void_open(
        self, unit: UnitRef, which: ColumnElement[bool], at: datetime, by: str, reason: str
    ) -> int:
        task = self.t.task
        result = await self.session.execute(
            update(task)
            .where(task.c.unit == unit, which, task.c.status == TaskStatus.OPEN)
            .values(status=TaskStatus.VOID, decided_at=at, decided_by=by, reason=reason)
        )
        changed = int(getattr(result, "rowcount", 0) or 0)
        return list_versions.touch_if(self.session, TASK_LIST, str(unit), changed)

    async def replace_open_details(
        self, task_id: uuid.UUID, details: Mapping[str, Any], finding_count: int
    ) -> bool:
        """Replace what an open task shows (a school's newer submission of the same thing)."""
        task = self.t.task
        current = await self.get(task_id)
        if current is None or current.status != TaskStatus.OPEN:
            return False
        merged = {**current.details, **details}
        await self.session.execute(
            update(task)
            .where(task.c.task_id == task_id, task.c.status == TaskStatus.OPEN)
            .values(details=merged, finding_count=finding_count, item_count=finding_count)
        )
        list_versions.touch(self.session, TASK_LIST, str(current.unit))
        return True

    async def mark_reminded(self, unit: UnitRef, subject_id: uuid.UUID, at: datetime) -> bool:
        """Note a reminder on the open transfer-step task of ``subject_id`` (a step id)."""
        task = self.t.task
        result = await self.session.execute(
            update(task)
            .where(
                task.c.unit == unit,
                task.c.kind == TaskKind.TRANSFER_STEP,
                task.c.subject_id == subject_id,
                task.c.status == TaskStatus.OPEN,
            )
            .values(reminded_at=at)
        )
        changed = int(getattr(result, "rowcount", 0) or 0)
        return list_versions.touch_if(self.session, TASK_LIST, str(unit), changed) == 1

    async def open_counts(self, units: Sequence[UnitRef], today: date) -> list[Row[Any]]:
        """Per unit among ``units`` and kind: open tasks and, of them, those past due (one
        query)."""
        task = self.t.task
        overdue = func.sum(case((_overdue(task, today), 1), else_=0))
        rows = await self.session.execute(
            select(task.c.unit, task.c.kind, func.count().label("open"), overdue.label("overdue"))
            .where(task.c.unit.in_(units), task.c.status == TaskStatus.OPEN)
            .group_by(task.c.unit, task.c.kind)
        )
        return list(rows.all())

    async def settle_items(self, task_id: uuid.UUID, plan: Plan) -> None:
        """Record each item's outcome: one statement for the approved, one per reason."""
        item = self.t.item
        if item is None:
            return
        if plan.approved:
            await self.session.execute(
                update(item)
                .where(item.c.task_id == task_id, item.c.registration_id.in_(plan.approved))
                .values(status=ItemStatus.APPROVED)
            )
        for reason, ids in _by_reason(plan.rejected).items():
            await self.session.execute(
                update(item)
                .where(item.c.task_id == task_id, item.c.registration_id.in_(ids))
                .values(status=ItemStatus.REJECTED, reason=reason)
            )


def _needed(statement: Any) -> Any:
    """A statement on the items' or proofs' table, which a desk without submissions lacks."""
    if statement is None:
        raise LookupError("this desk keeps no items or proofs (it takes no submission)")
    return statement


def _by_reason(rejected: Mapping[uuid.UUID, str]) -> dict[str, list[uuid.UUID]]:
    grouped: dict[str, list[uuid.UUID]] = defaultdict(list)
    for registration_id, reason in rejected.items():
        grouped[reason].append(registration_id)
    return grouped
