"""Every query of the school's transfers: transfers in with their proofs, and the roster
reads and changes of a transfer (the sending school's step tasks are its approval desk's).
(Registration and admission queries are in :mod:`.repository`.)

The statements of the per-message and per-request paths are built once, here at import, with
named bind parameters, and executed with a parameter dict (decision 0019): building a
statement and computing its cache key on every call was most of the school's CPU per
transfer. Their bind parameters are named ``b_…`` because an UPDATE or INSERT reserves the
column names for its SET and VALUES.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import (
    PENDING_TRANSFER_IN,
    closure,
    student,
    transfer_in,
    transfer_proof,
)
from services.school.adapters.repository import BASIC_COLUMNS
from services.school.domain.students import StudentStatus
from services.school.domain.transfers import TransferInStatus


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


@dataclass(frozen=True)
class RequestChecks:
    """What a transfer request reads before it is stored: the school's closure (a school
    merged or closed takes no transfer in), whether a transfer in of the student is pending
    here, and the student's roster status here."""

    closure: Any  # the closure row (kind, to_school, closed_on), None if open
    pending: bool
    status: str | None


async def request_checks(
    session: AsyncSession, school_code: str, student_number: str
) -> RequestChecks:
    """The reads of a transfer request in one round trip (:data:`_REQUEST_CHECKS`)."""
    params = {"b_school_code": school_code, "b_student_number": student_number}
    row = (await session.execute(_REQUEST_CHECKS, params)).one()
    closure_row = row if row.kind is not None else None
    return RequestChecks(closure_row, bool(row.pending), row.status)


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


_GET_TRANSFERS_IN = select(transfer_in).where(
    transfer_in.c.transfer_id.in_(bindparam("b_ids", expanding=True))
)


async def get_transfers_in(session: AsyncSession, transfer_ids: Sequence[str]) -> dict[str, Any]:
    """The transfers in among ``transfer_ids`` that exist, by id (one statement)."""
    if not transfer_ids:
        return {}
    rows = await session.execute(_GET_TRANSFERS_IN, {"b_ids": list(set(transfer_ids))})
    return {row.transfer_id: row for row in rows}


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


_COMPLETE_TRANSFERS_IN = (
    update(transfer_in)
    .where(
        transfer_in.c.transfer_id.in_(bindparam("b_ids", expanding=True)),
        transfer_in.c.status == TransferInStatus.PENDING,
    )
    .values(status=TransferInStatus.COMPLETED, settled_at=bindparam("b_at"))
)


async def complete_transfers_in(
    session: AsyncSession, transfer_ids: Sequence[str], at: datetime
) -> None:
    """The pending transfers in among ``transfer_ids`` are completed (one statement)."""
    if transfer_ids:
        params = {"b_ids": list(set(transfer_ids)), "b_at": at}
        await session.execute(_COMPLETE_TRANSFERS_IN, params)


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
# What a returning student's old entry takes from the new row: all but its keys, its
# registration and when it was created (one entry per student and school).
_REENROLLED = (*BASIC_COLUMNS, "status", "class_name", "updated_at")


def _enrol(insert: Any) -> Any:
    statement = insert(student)
    return statement.on_conflict_do_update(
        index_elements=[student.c.school_code, student.c.student_number],
        set_={name: statement.excluded[name] for name in _REENROLLED},
    )


# Built once per dialect; executed with one parameter set per student (an executemany).
_ENROL = {"postgresql": _enrol(postgresql_insert), "sqlite": _enrol(sqlite_insert)}


async def enrol_transferred_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put transferred-in students on the rosters, in one statement: a student who once left
    a school gets their old entry back (``INSERT … ON CONFLICT DO UPDATE`` on the school and
    student number). A student named twice for one school takes the later row, as if the
    rows were applied one after the other."""
    latest = {(row["school_code"], row["student_number"]): row for row in rows}
    if latest:
        statement = _ENROL[session.get_bind().dialect.name]
        await session.execute(statement, [dict(row) for row in latest.values()])


_ROSTER_STATUS = select(student.c.status).where(*_ROSTER_KEYS)
# One row whatever the tables hold: the closure joined to a row of its own.
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_REQUEST_CHECKS = select(
    _HAS_PENDING_TRANSFER_IN.scalar_subquery().label("pending"),
    _ROSTER_STATUS.scalar_subquery().label("status"),
    closure.c.kind,
    closure.c.to_school,
    closure.c.closed_on,
).select_from(_ONE_ROW.outerjoin(closure, closure.c.school_code == bindparam("b_school_code")))


async def roster_status(session: AsyncSession, school_code: str, student_number: str) -> str | None:
    params = {"b_school_code": school_code, "b_student_number": student_number}
    result = await session.execute(_ROSTER_STATUS, params)
    return result.scalar_one_or_none()


# A run's (school, student number) pairs at once, through uq_school_student_number.
_ROSTER_STATUSES = select(student.c.school_code, student.c.student_number, student.c.status).where(
    tuple_(student.c.school_code, student.c.student_number).in_(bindparam("b_keys", expanding=True))
)


async def roster_statuses(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The roster status of each (school code, student number) that has a roster entry
    (one statement for them all)."""
    if not keys:
        return {}
    rows = await session.execute(_ROSTER_STATUSES, {"b_keys": sorted(set(keys))})
    return {(row.school_code, row.student_number): row.status for row in rows}
