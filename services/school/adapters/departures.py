"""The school's history list of students who left for another school (decision 0043).

Set-based: a progression's cohort leaves in one ``INSERT … SELECT`` and one ``UPDATE``; a run
of transfers (one delivery batch, several schools and transfers) in one ``executemany`` of the
``INSERT … SELECT`` (each departure with its own transfer, destination and date) and one
``UPDATE … IN``, built once at import (decision 0019). The history row is written only while
the roster entry has not left yet, so a message heard twice lists the student once. A
departure the history already lists (the student, and the transfer, cohort or merger) is not
applied again, even once the student has come back: a completion re-sent later under a new
message id (``xueji-ops resend``, a restored national) does not take a returned student off
the roster (decision 0060).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Row,
    String,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import departure, student
from services.school.domain.students import DEPARTED_STATUSES

TRANSFER = "transfer"
PROGRESSION = "progression"
SCHOOL_MERGED = "school_merged"
_CHUNK = 500  # keys per look-up: a cohort or a merged school may be thousands


@dataclass(frozen=True)
class Leaving:
    """Students leaving ``school_code`` for ``to_school`` by one transfer/progression/merger."""

    school_code: str
    student_numbers: Sequence[str]
    kind: str
    subject_id: str
    to_school: str
    left_on: date


# The history's columns, as the departures' SELECTs give them.
_COLUMNS = [
    "school_code",
    "student_number",
    "name",
    "grade",
    "kind",
    "subject_id",
    "to_school",
    "left_on",
    "recorded_at",
]


async def leave(session: AsyncSession, leaving: Leaving, status: str, at: datetime) -> int:
    """List the students who leave in the history and take them off the live roster (status
    ``status``, no class). Returns how many left now (0 for a repeated message)."""
    keys = [(leaving.school_code, n, leaving.subject_id) for n in leaving.student_numbers]
    listed = await _listed(session, keys) if keys else set()
    numbers = [n for school, n, subject in keys if (school, n, subject) not in listed]
    if not numbers:
        return 0
    still_here = (
        student.c.school_code == leaving.school_code,
        student.c.student_number.in_(numbers),
        student.c.status.not_in([str(s) for s in DEPARTED_STATUSES]),
    )
    rows = select(
        student.c.school_code,
        student.c.student_number,
        student.c.name,
        student.c.grade,
        literal(leaving.kind),
        literal(leaving.subject_id),
        literal(leaving.to_school),
        literal(leaving.left_on),
        literal(at),
    ).where(*still_here)
    await session.execute(insert(departure).from_select(_COLUMNS, rows))
    result = await session.execute(
        update(student).where(*still_here).values(status=status, class_name=None, updated_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Not ``NOT IN``: an executemany takes no expanding parameter.
_NOT_DEPARTED = and_(*(student.c.status != str(s) for s in DEPARTED_STATUSES))
# One departure: executed with a parameter set per student (an executemany).
_LIST_DEPARTURE = insert(departure).from_select(
    _COLUMNS,
    select(
        student.c.school_code,
        student.c.student_number,
        student.c.name,
        student.c.grade,
        bindparam("b_kind", type_=String),
        bindparam("b_subject_id", type_=String),
        bindparam("b_to_school", type_=String),
        bindparam("b_left_on", type_=Date),
        bindparam("b_at", type_=DateTime(timezone=True)),
    ).where(
        student.c.school_code == bindparam("b_school_code"),
        student.c.student_number == bindparam("b_student_number"),
        _NOT_DEPARTED,
    ),
)
_LEAVE_ROSTER = (
    update(student)
    .where(
        tuple_(student.c.school_code, student.c.student_number).in_(
            bindparam("b_keys", expanding=True)
        ),
        _NOT_DEPARTED,
    )
    .values(status=bindparam("b_status"), class_name=None, updated_at=bindparam("b_at"))
    .returning(student.c.school_code, student.c.student_number)
)


async def leave_many(
    session: AsyncSession, leavings: Sequence[Leaving], status: str, at: datetime
) -> set[tuple[str, str]]:
    """:func:`leave` for several subjects at once (a run of transfers), each departure with
    its own subject, destination and date: two statements whatever the run's length. A
    student may appear once per school in ``leavings``. Returns the (school, student number)
    pairs that left now (none for a repeated message)."""
    rows = [
        {
            "b_school_code": leaving.school_code,
            "b_student_number": number,
            "b_kind": leaving.kind,
            "b_subject_id": leaving.subject_id,
            "b_to_school": leaving.to_school,
            "b_left_on": leaving.left_on,
            "b_at": at,
        }
        for leaving in leavings
        for number in leaving.student_numbers
    ]
    if rows:
        listed = await _listed(session, [_subject_key(row) for row in rows])
        rows = [row for row in rows if _subject_key(row) not in listed]
    if not rows:
        return set()
    await session.execute(_LIST_DEPARTURE, rows)
    keys = [(row["b_school_code"], row["b_student_number"]) for row in rows]
    left = await session.execute(_LEAVE_ROSTER, {"b_keys": keys, "b_status": status, "b_at": at})
    return {(row.school_code, row.student_number) for row in left}


_LISTED = select(departure.c.school_code, departure.c.student_number, departure.c.subject_id).where(
    tuple_(departure.c.school_code, departure.c.student_number, departure.c.subject_id).in_(
        bindparam("b_keys", expanding=True)
    )
)


def _subject_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["b_school_code"], row["b_student_number"], str(row["b_subject_id"]))


async def _listed(
    session: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of these (school, student, subject) departures the history already holds: the
    unique index ``uq_school_departure_subject``, one statement per 500."""
    ordered = sorted(set(keys))
    listed: set[tuple[str, str, str]] = set()
    for start in range(0, len(ordered), _CHUNK):
        found = await session.execute(_LISTED, {"b_keys": ordered[start : start + _CHUNK]})
        listed |= {(r.school_code, r.student_number, str(r.subject_id)) for r in found}
    return listed


async def history(
    session: AsyncSession, school_code: str, *, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """One page of the school's history list, newest first, and its length."""
    where = departure.c.school_code == school_code
    total = (
        await session.execute(select(func.count()).select_from(departure).where(where))
    ).scalar_one()
    page = await session.execute(
        select(departure)
        .where(where)
        .order_by(departure.c.left_on.desc(), departure.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(page.all()), int(total)


async def last_departure(
    session: AsyncSession, school_code: str, student_number: str
) -> Row[Any] | None:
    """Where and when a student last left this school (``uq_school_departure_subject``)."""
    result = await session.execute(
        select(departure)
        .where(
            departure.c.school_code == school_code,
            departure.c.student_number == student_number,
        )
        .order_by(departure.c.id.desc())
        .limit(1)
    )
    return result.first()
