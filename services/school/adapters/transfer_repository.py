"""Every query of the school's transfers: transfers in with their proofs, the sending school's
tasks, and the roster changes a completed transfer makes. (Registration and admission queries
are in :mod:`.repository`.)

The statements of the per-message and per-request paths are built once, here at import, with
named bind parameters, and executed with a parameter dict (decision 0019): building a
statement and computing its cache key on every call was most of the school's CPU per
transfer. Their bind parameters are named ``b_…`` because an UPDATE or INSERT reserves the
column names for its SET and VALUES. The metrics query stays written inline (not per transfer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    update,
)
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
from shared.db import list_versions


class DuplicatePendingTransfer(Exception):
    """Another pending transfer in of the same student was stored concurrently."""


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# Paging: LIMIT and OFFSET as parameters too, so one statement serves every page.
_LIMIT = bindparam("b_limit", type_=Integer)
_OFFSET = bindparam("b_offset", type_=BigInteger)  # up to SQL_INT_MAX, past int32


# --- transfers in ------------------------------------------------------------------------

_INSERT_TRANSFER_IN = insert(transfer_in)
_INSERT_PROOFS = insert(transfer_proof)


async def insert_transfer_in(
    session: AsyncSession, row: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]]
) -> None:
    """Insert a transfer in and its proof documents."""
    try:
        await session.execute(_INSERT_TRANSFER_IN, row)
    except IntegrityError as error:
        raise DuplicatePendingTransfer from error
    if proofs:
        await session.execute(_INSERT_PROOFS, list(proofs))


_HAS_PENDING_TRANSFER_IN = select(
    exists().where(
        transfer_in.c.school_code == bindparam("b_school_code"),
        transfer_in.c.student_number == bindparam("b_student_number"),
        PENDING_TRANSFER_IN,  # literally: the partial unique index answers it
    )
)


async def has_pending_transfer_in(
    session: AsyncSession, school_code: str, student_number: str
) -> bool:
    params = {"b_school_code": school_code, "b_student_number": student_number}
    return bool((await session.execute(_HAS_PENDING_TRANSFER_IN, params)).scalar_one())


_ENROLLED_IN_CLASS = (
    select(func.count())
    .select_from(student)
    .where(
        student.c.school_code == bindparam("b_school_code"),
        student.c.status == StudentStatus.ENROLLED,
        student.c.grade == bindparam("b_grade"),
        student.c.class_name == bindparam("b_class_name"),
    )
    .scalar_subquery()
)
_IN_FLIGHT_TO_CLASS = (
    select(func.count())
    .select_from(transfer_in)
    .where(
        transfer_in.c.school_code == bindparam("b_school_code"),
        transfer_in.c.status == TransferInStatus.PENDING,
        transfer_in.c.grade == bindparam("b_grade"),
        transfer_in.c.class_name == bindparam("b_class_name"),
    )
    .scalar_subquery()
)
_SEATS_TAKEN = select(_ENROLLED_IN_CLASS + _IN_FLIGHT_TO_CLASS)


async def seats_taken(session: AsyncSession, school_code: str, grade: int, class_name: str) -> int:
    """Students enrolled in the class plus transfers in flight into it (one query)."""
    params = {"b_school_code": school_code, "b_grade": grade, "b_class_name": class_name}
    return int((await session.execute(_SEATS_TAKEN, params)).scalar_one())


_GET_TRANSFER_IN = select(transfer_in).where(transfer_in.c.transfer_id == bindparam("b_id"))


async def get_transfer_in(session: AsyncSession, transfer_id: str) -> Row[Any] | None:
    result = await session.execute(_GET_TRANSFER_IN, {"b_id": transfer_id})
    return result.one_or_none()


def _transfers_in_page(by_status: bool) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of a school's transfers in, with or without the status filter."""
    conditions = [transfer_in.c.school_code == bindparam("b_school_code")]
    if by_status:
        conditions.append(transfer_in.c.status == bindparam("b_status"))
    where = and_(*conditions)
    total = select(func.count()).select_from(transfer_in).where(where)
    page = (
        select(transfer_in)
        .where(where)
        .order_by(transfer_in.c.requested_at.desc(), transfer_in.c.transfer_id)
        .limit(_LIMIT)
        .offset(_OFFSET)
    )
    return total, page


# By whether the status filter applies: one pair of statements per filter combination.
_TRANSFERS_IN_PAGE = {by_status: _transfers_in_page(by_status) for by_status in (False, True)}


async def list_transfers_in(
    session: AsyncSession, school_code: str, *, status: str | None, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """One page of a school's transfers in, newest first, and how many match."""
    count, page = _TRANSFERS_IN_PAGE[status is not None]
    params: dict[str, Any] = {"b_school_code": school_code}
    if status is not None:
        params["b_status"] = status
    total = await session.execute(count, params)
    rows = await session.execute(page, {**params, "b_limit": limit, "b_offset": offset})
    return list(rows.all()), int(total.scalar_one())


# No .values(): the SET clause is the columns named in the parameters (as many as the
# outcome records), so one statement serves every outcome.
_SETTLE_TRANSFER_IN = update(transfer_in).where(
    transfer_in.c.transfer_id == bindparam("b_id"),
    transfer_in.c.status == TransferInStatus.PENDING,
)


async def settle_transfer_in(
    session: AsyncSession, transfer_id: str, values: Mapping[str, Any]
) -> bool:
    """Move a pending transfer in to its outcome; False if it was no longer pending."""
    result = await session.execute(_SETTLE_TRANSFER_IN, {**values, "b_id": transfer_id})
    return _rowcount(result) == 1


_REQUEST_CANCEL = (
    update(transfer_in)
    .where(
        transfer_in.c.transfer_id == bindparam("b_id"),
        transfer_in.c.status == TransferInStatus.PENDING,
        transfer_in.c.cancel_requested_at.is_(None),
    )
    .values(cancel_requested_at=bindparam("b_at"), cancel_reason=bindparam("b_reason"))
)


async def request_cancel(
    session: AsyncSession, transfer_id: str, at: datetime, reason: str
) -> bool:
    """Note the cancellation request of a pending transfer in, once."""
    params = {"b_id": transfer_id, "b_at": at, "b_reason": reason}
    return _rowcount(await session.execute(_REQUEST_CANCEL, params)) == 1


_PROOFS = (
    select(
        transfer_proof.c.transfer_id,
        transfer_proof.c.position,
        transfer_proof.c.kind,
        transfer_proof.c.filename,
        transfer_proof.c.size,
    )
    .where(transfer_proof.c.transfer_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(transfer_proof.c.transfer_id, transfer_proof.c.position)
)


async def proofs(session: AsyncSession, transfer_ids: Sequence[str]) -> list[Any]:
    """The proofs' descriptions (no content) of these transfers, in order."""
    if not transfer_ids:
        return []
    rows = await session.execute(_PROOFS, {"b_ids": list(transfer_ids)})
    return list(rows.all())


_PROOF = select(transfer_proof).where(
    transfer_proof.c.transfer_id == bindparam("b_id"),
    transfer_proof.c.position == bindparam("b_position"),
)


async def proof(session: AsyncSession, transfer_id: str, position: int) -> Row[Any] | None:
    result = await session.execute(_PROOF, {"b_id": transfer_id, "b_position": position})
    return result.one_or_none()


# --- the roster on completion ------------------------------------------------------------

_ROSTER_KEYS = (
    student.c.school_code == bindparam("b_school_code"),
    student.c.student_number == bindparam("b_student_number"),
)
_ROSTER_ENTRY = select(student.c.id).where(*_ROSTER_KEYS)
_INSERT_STUDENT = insert(student)
# No .values(): the SET clause is the columns named in the parameters (the roster row's).
_REENROL = update(student).where(*_ROSTER_KEYS)


async def enrol_transferred(session: AsyncSession, row: Mapping[str, Any]) -> None:
    """Put a transferred-in student on the roster; a student who once left this school gets
    their old entry back (one entry per student and school)."""
    keys = {"b_school_code": row["school_code"], "b_student_number": row["student_number"]}
    found = await session.execute(_ROSTER_ENTRY, keys)
    if found.first() is None:
        await session.execute(_INSERT_STUDENT, row)
        return
    values = {k: v for k, v in row.items() if k not in ("created_at", "registration_id")}
    await session.execute(_REENROL, {**values, **keys})


_MARK_TRANSFERRED_OUT = (
    update(student)
    .where(
        student.c.school_code == bindparam("b_school_code"),
        student.c.student_number == bindparam("b_student_number"),
        student.c.status != StudentStatus.TRANSFERRED_OUT,
    )
    .values(status=StudentStatus.TRANSFERRED_OUT, class_name=None, updated_at=bindparam("b_at"))
)


async def mark_transferred_out(
    session: AsyncSession, school_code: str, student_number: str, at: datetime
) -> bool:
    """The sending school's entry becomes ``transferred_out``: the basic record stays, the
    class placement (live data) goes. False if there is no such entry (or it already left)."""
    params = {"b_school_code": school_code, "b_student_number": student_number, "b_at": at}
    return _rowcount(await session.execute(_MARK_TRANSFERRED_OUT, params)) == 1


_ROSTER_STATUS = select(student.c.status).where(*_ROSTER_KEYS)


async def roster_status(session: AsyncSession, school_code: str, student_number: str) -> str | None:
    params = {"b_school_code": school_code, "b_student_number": student_number}
    result = await session.execute(_ROSTER_STATUS, params)
    return result.scalar_one_or_none()


# --- the sending school's tasks ----------------------------------------------------------

# Every write of a task touches the school's task list version (shared/db/list_versions.py):
# a poll of an unchanged list answers 304 from that one row (decision 0020).
TASK_LIST = "school_task"

_INSERT_TASK = insert(task)


async def insert_task(session: AsyncSession, row: Mapping[str, Any]) -> None:
    await session.execute(_INSERT_TASK, row)
    list_versions.touch(session, TASK_LIST, row["school_code"])


_TASK_FOR_STEP = select(task.c.task_id).where(
    task.c.school_code == bindparam("b_school_code"), task.c.step_id == bindparam("b_step_id")
)


async def task_for_step(session: AsyncSession, school_code: str, step_id: str) -> str | None:
    params = {"b_school_code": school_code, "b_step_id": step_id}
    return (await session.execute(_TASK_FOR_STEP, params)).scalar_one_or_none()


_GET_TASK = select(task).where(task.c.task_id == bindparam("b_id"))
_GET_TASKS = select(task).where(task.c.task_id.in_(bindparam("b_ids", expanding=True)))


async def get_task(session: AsyncSession, task_id: str) -> Row[Any] | None:
    return (await session.execute(_GET_TASK, {"b_id": task_id})).one_or_none()


async def get_tasks(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The tasks among ``task_ids`` that exist, by id (one statement)."""
    rows = await session.execute(_GET_TASKS, {"b_ids": list(set(task_ids))})
    return {row.task_id: row for row in rows.all()}


def _overdue(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    return and_(task.c.status == TaskStatus.OPEN, task.c.due_on < today)


def _tasks_page(by_status: bool, overdue: bool) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of a school's tasks, with or without each filter."""
    conditions = [task.c.school_code == bindparam("b_school_code")]
    if by_status:
        conditions.append(task.c.status == bindparam("b_status"))
    if overdue:
        conditions.append(_overdue(bindparam("b_today")))
    where = and_(*conditions)
    total = select(func.count()).select_from(task).where(where)
    page = (
        select(task)
        .where(where)
        .order_by(task.c.opened_at, task.c.task_id)
        .limit(_LIMIT)
        .offset(_OFFSET)
    )
    return total, page


# By (status filter, overdue filter): one pair of statements per filter combination.
_TASKS_PAGE = {
    (by_status, overdue): _tasks_page(by_status, overdue)
    for by_status in (False, True)
    for overdue in (False, True)
}


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
    count, page = _TASKS_PAGE[status is not None, overdue_on is not None]
    params: dict[str, Any] = {"b_school_code": school_code}
    if status is not None:
        params["b_status"] = status
    if overdue_on is not None:
        params["b_today"] = overdue_on
    total = await session.execute(count, params)
    rows = await session.execute(page, {**params, "b_limit": limit, "b_offset": offset})
    return list(rows.all()), int(total.scalar_one())


_CLOSE_TASK = (
    update(task)
    .where(task.c.task_id == bindparam("b_id"), task.c.status == TaskStatus.OPEN)
    .values(
        status=bindparam("b_status"),
        decided_at=bindparam("b_at"),
        decided_by=bindparam("b_by"),
        reason=bindparam("b_reason"),
    )
    .returning(task.c.school_code)
)


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
    params = {"b_id": task_id, "b_status": status, "b_at": at, "b_by": by, "b_reason": reason}
    school_code = (await session.execute(_CLOSE_TASK, params)).scalar_one_or_none()
    if school_code is None:
        return False
    list_versions.touch(session, TASK_LIST, school_code)
    return True


_MARK_REMINDED = (
    update(task)
    .where(
        task.c.school_code == bindparam("b_school_code"),
        task.c.step_id == bindparam("b_step_id"),
        task.c.status == TaskStatus.OPEN,
    )
    .values(reminded_at=bindparam("b_at"))
)


async def mark_reminded(
    session: AsyncSession, school_code: str, step_id: str, at: datetime
) -> bool:
    params = {"b_school_code": school_code, "b_step_id": step_id, "b_at": at}
    changed = _rowcount(await session.execute(_MARK_REMINDED, params))
    return list_versions.touch_if(session, TASK_LIST, school_code, changed) == 1


def _void_open(which: ColumnElement[bool]) -> Update:
    """Void the open tasks at a school that ``which`` picks (``b_which``)."""
    return (
        update(task)
        .where(
            task.c.school_code == bindparam("b_school_code"),
            which,
            task.c.status == TaskStatus.OPEN,
        )
        .values(
            status=TaskStatus.VOID,
            decided_at=bindparam("b_at"),
            decided_by="system",
            reason=bindparam("b_reason"),
        )
    )


_VOID_TRANSFER_TASKS = _void_open(task.c.transfer_id == bindparam("b_which"))
_VOID_STEP_TASKS = _void_open(task.c.step_id == bindparam("b_which"))


async def void_tasks(
    session: AsyncSession, school_code: str, transfer_id: str, *, at: datetime, reason: str
) -> int:
    """Every open task of the transfer at this school becomes void; how many did."""
    params = {"b_school_code": school_code, "b_which": transfer_id, "b_at": at, "b_reason": reason}
    changed = _rowcount(await session.execute(_VOID_TRANSFER_TASKS, params))
    return list_versions.touch_if(session, TASK_LIST, school_code, changed)


async def void_step_tasks(
    session: AsyncSession, school_code: str, step_id: str, *, at: datetime, reason: str
) -> int:
    """The open task of one step at this school becomes void; how many did."""
    params = {"b_school_code": school_code, "b_which": step_id, "b_at": at, "b_reason": reason}
    changed = _rowcount(await session.execute(_VOID_STEP_TASKS, params))
    return list_versions.touch_if(session, TASK_LIST, school_code, changed)


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
