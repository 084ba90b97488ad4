"""Every query of the authority's tables (set-based for batches)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.authority.domain import ItemStatus, Plan, TaskKind, TaskStatus
from shared.authority.tables import AuthorityTables


class TaskRepository:
    """Tasks, items and proofs of the units one service instance hosts."""

    def __init__(self, session: AsyncSession, tables: AuthorityTables) -> None:
        self.session = session
        self.t = tables

    async def find_subject(self, unit: str, kind: TaskKind, subject_id: str) -> str | None:
        """The task already opened for this submission, if any."""
        task = self.t.task
        return (
            await self.session.execute(
                select(task.c.task_id).where(
                    task.c.authority_unit == unit,
                    task.c.kind == kind,
                    task.c.subject_id == subject_id,
                )
            )
        ).scalar_one_or_none()

    async def add(
        self,
        task: Mapping[str, Any],
        items: Sequence[Mapping[str, Any]] = (),
        proofs: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Insert a task with its items and proofs (one statement per table)."""
        await self.session.execute(insert(self.t.task), [dict(task)])
        if items:
            await self.session.execute(insert(self.t.item), list(items))
        if proofs:
            await self.session.execute(insert(self.t.proof), list(proofs))

    async def get(self, task_id: str) -> Row[Any] | None:
        task = self.t.task
        return (
            await self.session.execute(select(task).where(task.c.task_id == task_id))
        ).one_or_none()

    async def get_many(self, task_ids: Sequence[str]) -> dict[str, Row[Any]]:
        """The tasks among ``task_ids`` that exist, by id (one statement)."""
        task = self.t.task
        rows = await self.session.execute(select(task).where(task.c.task_id.in_(set(task_ids))))
        return {row.task_id: row for row in rows.all()}

    async def items(self, task_id: str) -> list[Row[Any]]:
        item = self.t.item
        rows = await self.session.execute(
            select(item).where(item.c.task_id == task_id).order_by(item.c.position)
        )
        return list(rows.all())

    async def item_ids(self, task_id: str) -> list[str]:
        item = self.t.item
        rows = await self.session.execute(
            select(item.c.registration_id)
            .where(item.c.task_id == task_id)
            .order_by(item.c.position)
        )
        return list(rows.scalars())

    async def proofs(self, task_id: str) -> list[Any]:
        """The proofs' descriptions, without their content."""
        proof = self.t.proof
        rows = await self.session.execute(
            select(proof.c.position, proof.c.kind, proof.c.filename, proof.c.size)
            .where(proof.c.task_id == task_id)
            .order_by(proof.c.position)
        )
        return list(rows.all())

    async def proof(self, task_id: str, position: int) -> Row[Any] | None:
        proof = self.t.proof
        return (
            await self.session.execute(
                select(proof).where(proof.c.task_id == task_id, proof.c.position == position)
            )
        ).one_or_none()

    async def page(
        self,
        unit: str,
        *,
        status: TaskStatus | None,
        kind: TaskKind | None,
        limit: int,
        offset: int,
        overdue_on: date | None = None,
    ) -> tuple[list[Row[Any]], int]:
        """One page of a unit's tasks, oldest first, and how many match in all;
        ``overdue_on`` keeps the tasks open and past their due date on that day."""
        task = self.t.task
        conditions = [task.c.authority_unit == unit]
        if status is not None:
            conditions.append(task.c.status == status)
        if kind is not None:
            conditions.append(task.c.kind == kind)
        if overdue_on is not None:
            conditions.append(self._overdue(overdue_on))
        rows = await self.session.execute(
            select(task)
            .where(*conditions)
            .order_by(task.c.opened_at, task.c.task_id)
            .limit(limit)
            .offset(offset)
        )
        count = select(func.count()).select_from(task).where(*conditions)
        total = await self.session.execute(count)
        return list(rows.all()), int(total.scalar_one())

    async def close(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        at: datetime,
        by: str,
        reason: str | None,
        rule: str | None = None,
    ) -> bool:
        """Decide an open task; False when it was no longer open (someone decided first)."""
        task = self.t.task
        result = await self.session.execute(
            update(task)
            .where(task.c.task_id == task_id, task.c.status == TaskStatus.OPEN)
            .values(status=status, decided_at=at, decided_by=by, reason=reason, rule=rule)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def void_transfer(
        self, unit: str, transfer_id: str, *, at: datetime, by: str, reason: str
    ) -> int:
        """Make every open task of a transfer at ``unit`` void; how many were."""
        return await self._void_open(unit, self.t.task.c.transfer_id == transfer_id, at, by, reason)

    async def void_step(
        self, unit: str, step_id: str, *, at: datetime, by: str, reason: str
    ) -> int:
        """Make the open task(s) of one transfer step at ``unit`` void (the step task or the
        intervention task: both have the step id as subject); how many were."""
        return await self._void_open(unit, self.t.task.c.subject_id == step_id, at, by, reason)

    async def _void_open(
        self, unit: str, which: ColumnElement[bool], at: datetime, by: str, reason: str
    ) -> int:
        task = self.t.task
        result = await self.session.execute(
            update(task)
            .where(task.c.authority_unit == unit, which, task.c.status == TaskStatus.OPEN)
            .values(status=TaskStatus.VOID, decided_at=at, decided_by=by, reason=reason)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def replace_open_details(
        self, task_id: str, details: Mapping[str, Any], finding_count: int
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
        return True

    async def mark_reminded(self, unit: str, subject_id: str, at: datetime) -> bool:
        """Note a reminder on the open transfer-step task of ``subject_id`` (a step id)."""
        task = self.t.task
        result = await self.session.execute(
            update(task)
            .where(
                task.c.authority_unit == unit,
                task.c.kind == TaskKind.TRANSFER_STEP,
                task.c.subject_id == subject_id,
                task.c.status == TaskStatus.OPEN,
            )
            .values(reminded_at=at)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def open_counts(self, units: Sequence[str], today: date) -> list[Row[Any]]:
        """Per unit among ``units``: open tasks and, of them, those past due (one query)."""
        task = self.t.task
        overdue = func.sum(case((self._overdue(today), 1), else_=0))
        rows = await self.session.execute(
            select(task.c.authority_unit, func.count().label("open"), overdue.label("overdue"))
            .where(task.c.authority_unit.in_(units), task.c.status == TaskStatus.OPEN)
            .group_by(task.c.authority_unit)
        )
        return list(rows.all())

    def _overdue(self, today: date) -> Any:
        task = self.t.task
        return and_(
            task.c.status == TaskStatus.OPEN, task.c.due_on.is_not(None), task.c.due_on < today
        )

    async def settle_items(self, task_id: str, plan: Plan) -> None:
        """Record each item's outcome: one statement for the approved, one per reason."""
        item = self.t.item
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


def _by_reason(rejected: Mapping[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for registration_id, reason in rejected.items():
        grouped[reason].append(registration_id)
    return grouped
