"""Every query of the school's transfers: transfers in with their proofs, the sending school's
tasks, and the roster changes a completed transfer makes. (Registration and admission queries
are in :mod:`.repository`.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import (
    PENDING_TRANSFER_IN,
    student,
    task,
    transfer_in,
    transfer_proof,
)
from services.school.domain.students import StudentStatus
from services.school.domain.transfers import TaskStatus, TransferInStatus


class DuplicatePendingTransfer(Exception):
    """Another pending transfer in of the same student was stored concurrently."""


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# --- transfers in ------------------------------------------------------------------------


async def insert_transfer_in(
    session: AsyncSession, row: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]]
) -> None:
    """Insert a transfer in and its proof documents."""
    try:
        await session.execute(insert(transfer_in).values(**row))
    except IntegrityError as error:
        raise DuplicatePendingTransfer from error
    if proofs:
        await session.execute(insert(transfer_proof), list(proofs))


async def has_pending_transfer_in(
    session: AsyncSession, school_code: str, student_number: str
) -> bool:
    query = select(
        exists().where(
            transfer_in.c.school_code == school_code,
            transfer_in.c.student_number == student_number,
            PENDING_TRANSFER_IN,  # literally: the partial unique index answers it
        )
    )
    return bool((await session.execute(query)).scalar_one())


async def seats_taken(session: AsyncSession, school_code: str, grade: int, class_name: str) -> int:
    """Students enrolled in the class plus transfers in flight into it (one query)."""
    enrolled = (
        select(func.count())
        .select_from(student)
        .where(
            student.c.school_code == school_code,
            student.c.status == StudentStatus.ENROLLED,
            student.c.grade == grade,
            student.c.class_name == class_name,
        )
        .scalar_subquery()
    )
    in_flight = (
        select(func.count())
        .select_from(transfer_in)
        .where(
            transfer_in.c.school_code == school_code,
            transfer_in.c.status == TransferInStatus.PENDING,
            transfer_in.c.grade == grade,
            transfer_in.c.class_name == class_name,
        )
        .scalar_subquery()
    )
    return int((await session.execute(select(enrolled + in_flight))).scalar_one())


async def get_transfer_in(session: AsyncSession, transfer_id: str) -> Row[Any] | None:
    result = await session.execute(
        select(transfer_in).where(transfer_in.c.transfer_id == transfer_id)
    )
    return result.one_or_none()


async def list_transfers_in(
    session: AsyncSession, school_code: str, *, status: str | None, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """One page of a school's transfers in, newest first, and how many match."""
    conditions = [transfer_in.c.school_code == school_code]
    if status is not None:
        conditions.append(transfer_in.c.status == status)
    where = and_(*conditions)
    total = await session.execute(select(func.count()).select_from(transfer_in).where(where))
    rows = await session.execute(
        select(transfer_in)
        .where(where)
        .order_by(transfer_in.c.requested_at.desc(), transfer_in.c.transfer_id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total.scalar_one())


async def settle_transfer_in(
    session: AsyncSession, transfer_id: str, values: Mapping[str, Any]
) -> bool:
    """Move a pending transfer in to its outcome; False if it was no longer pending."""
    result = await session.execute(
        update(transfer_in)
        .where(
            transfer_in.c.transfer_id == transfer_id,
            transfer_in.c.status == TransferInStatus.PENDING,
        )
        .values(**values)
    )
    return _rowcount(result) == 1


async def request_cancel(
    session: AsyncSession, transfer_id: str, at: datetime, reason: str
) -> bool:
    """Note the cancellation request of a pending transfer in, once."""
    result = await session.execute(
        update(transfer_in)
        .where(
            transfer_in.c.transfer_id == transfer_id,
            transfer_in.c.status == TransferInStatus.PENDING,
            transfer_in.c.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=at, cancel_reason=reason)
    )
    return _rowcount(result) == 1


async def proofs(session: AsyncSession, transfer_ids: Sequence[str]) -> list[Any]:
    """The proofs' descriptions (no content) of these transfers, in order."""
    if not transfer_ids:
        return []
    rows = await session.execute(
        select(
            transfer_proof.c.transfer_id,
            transfer_proof.c.position,
            transfer_proof.c.kind,
            transfer_proof.c.filename,
            transfer_proof.c.size,
        )
        .where(transfer_proof.c.transfer_id.in_(transfer_ids))
        .order_by(transfer_proof.c.transfer_id, transfer_proof.c.position)
    )
    return list(rows.all())


async def proof(session: AsyncSession, transfer_id: str, position: int) -> Row[Any] | None:
    result = await session.execute(
        select(transfer_proof).where(
            transfer_proof.c.transfer_id == transfer_id, transfer_proof.c.position == position
        )
    )
    return result.one_or_none()


# --- the roster on completion ------------------------------------------------------------


async def enrol_transferred(session: AsyncSession, row: Mapping[str, Any]) -> None:
    """Put a transferred-in student on the roster; a student who once left this school gets
    their old entry back (one entry per student and school)."""
    keys = (student.c.school_code == row["school_code"]) & (
        student.c.student_number == row["student_number"]
    )
    found = await session.execute(select(student.c.id).where(keys))
    if found.first() is None:
        await session.execute(insert(student).values(**row))
        return
    values = {k: v for k, v in row.items() if k not in ("created_at", "registration_id")}
    await session.execute(update(student).where(keys).values(**values))


async def mark_transferred_out(
    session: AsyncSession, school_code: str, student_number: str, at: datetime
) -> bool:
    """The sending school's entry becomes ``transferred_out``: the basic record stays, the
    class placement (live data) goes. False if there is no such entry (or it already left)."""
    result = await session.execute(
        update(student)
        .where(
            student.c.school_code == school_code,
            student.c.student_number == student_number,
            student.c.status != StudentStatus.TRANSFERRED_OUT,
        )
        .values(status=StudentStatus.TRANSFERRED_OUT, class_name=None, updated_at=at)
    )
    return _rowcount(result) == 1


async def roster_status(session: AsyncSession, school_code: str, student_number: str) -> str | None:
    result = await session.execute(
        select(student.c.status).where(
            student.c.school_code == school_code, student.c.student_number == student_number
        )
    )
    return result.scalar_one_or_none()


# --- the sending school's tasks ----------------------------------------------------------


async def insert_task(session: AsyncSession, row: Mapping[str, Any]) -> None:
    await session.execute(insert(task).values(**row))


async def task_for_step(session: AsyncSession, school_code: str, step_id: str) -> str | None:
    result = await session.execute(
        select(task.c.task_id).where(task.c.school_code == school_code, task.c.step_id == step_id)
    )
    return result.scalar_one_or_none()


async def get_task(session: AsyncSession, task_id: str) -> Row[Any] | None:
    return (await session.execute(select(task).where(task.c.task_id == task_id))).one_or_none()


async def get_tasks(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The tasks among ``task_ids`` that exist, by id (one statement)."""
    rows = await session.execute(select(task).where(task.c.task_id.in_(set(task_ids))))
    return {row.task_id: row for row in rows.all()}


def _overdue(today: date) -> ColumnElement[bool]:
    return and_(task.c.status == TaskStatus.OPEN, task.c.due_on < today)


async def list_tasks(
    session: AsyncSession,
    school_code: str,
    *,
    status: str | None,
    overdue_on: date | None,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """One page of a school's tasks, oldest first; ``overdue_on`` keeps the overdue ones."""
    conditions = [task.c.school_code == school_code]
    if status is not None:
        conditions.append(task.c.status == status)
    if overdue_on is not None:
        conditions.append(_overdue(overdue_on))
    where = and_(*conditions)
    total = await session.execute(select(func.count()).select_from(task).where(where))
    rows = await session.execute(
        select(task)
        .where(where)
        .order_by(task.c.opened_at, task.c.task_id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total.scalar_one())


async def close_task(
    session: AsyncSession,
    task_id: str,
    status: TaskStatus,
    *,
    at: datetime,
    by: str,
    reason: str | None,
) -> bool:
    """Decide an open task; False when it was no longer open."""
    result = await session.execute(
        update(task)
        .where(task.c.task_id == task_id, task.c.status == TaskStatus.OPEN)
        .values(status=status, decided_at=at, decided_by=by, reason=reason)
    )
    return _rowcount(result) == 1


async def mark_reminded(
    session: AsyncSession, school_code: str, step_id: str, at: datetime
) -> bool:
    result = await session.execute(
        update(task)
        .where(
            task.c.school_code == school_code,
            task.c.step_id == step_id,
            task.c.status == TaskStatus.OPEN,
        )
        .values(reminded_at=at)
    )
    return _rowcount(result) == 1


async def void_tasks(
    session: AsyncSession, school_code: str, transfer_id: str, *, at: datetime, reason: str
) -> int:
    """Every open task of the transfer at this school becomes void; how many did."""
    return await _void_open(session, school_code, task.c.transfer_id == transfer_id, at, reason)


async def void_step_tasks(
    session: AsyncSession, school_code: str, step_id: str, *, at: datetime, reason: str
) -> int:
    """The open task of one step at this school becomes void; how many did."""
    return await _void_open(session, school_code, task.c.step_id == step_id, at, reason)


async def _void_open(
    session: AsyncSession,
    school_code: str,
    which: ColumnElement[bool],
    at: datetime,
    reason: str,
) -> int:
    result = await session.execute(
        update(task)
        .where(task.c.school_code == school_code, which, task.c.status == TaskStatus.OPEN)
        .values(status=TaskStatus.VOID, decided_at=at, decided_by="system", reason=reason)
    )
    return _rowcount(result)


async def open_task_counts(
    session: AsyncSession, school_codes: Sequence[str], today: date
) -> list[Row[Any]]:
    """Per school: open tasks and, of them, those past due (one query)."""
    overdue = func.sum(case((_overdue(today), 1), else_=0))
    rows = await session.execute(
        select(task.c.school_code, func.count().label("open"), overdue.label("overdue"))
        .where(task.c.school_code.in_(school_codes), task.c.status == TaskStatus.OPEN)
        .group_by(task.c.school_code)
    )
    return list(rows.all())
