"""Every query of the school service. Batches are written set-based: one statement per kind
of change, ``executemany`` for per-row values, ``INSERT … SELECT`` to fill the roster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import (
    admission_error,
    admission_job,
    key_field_change,
    key_field_change_proof,
    registration,
    student,
)
from services.school.domain.key_fields import KeyFieldChangeStatus
from services.school.domain.registration import (
    OPEN_STATUSES,
    RegistrationStatus,
    sources_of,
)
from services.school.domain.students import (
    DEPARTED_STATUSES,
    STUDENT_ACTIVE_STATUSES,
    StudentStatus,
)

# Bind parameters of executemany statements (prefixed: they must not clash with column names).
_ID, _NUMBER, _REASON, _RULE = "b_id", "b_number", "b_reason", "b_rule"
_CHUNK = 500
BASIC_COLUMNS = (
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "grade",
    "enrolled_on",
)


class DuplicateOpenRegistration(Exception):
    """Another open registration of the same document number was stored concurrently."""


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- registrations -----------------------------------------------------------------------


async def insert_registrations(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new registrations in one ``executemany``."""
    try:
        await session.execute(insert(registration), list(rows))
    except IntegrityError as error:
        raise DuplicateOpenRegistration from error


async def taken_id_numbers(
    session: AsyncSession, school_code: str, numbers: Iterable[str]
) -> set[str]:
    """Which ``numbers`` already hold a place at the school: an open registration or an
    active roster entry (an approved registration is represented by its roster entry)."""
    wanted = sorted(set(numbers))
    taken: set[str] = set()
    for chunk in _chunks(wanted):
        open_requests = select(registration.c.id_number).where(
            registration.c.school_code == school_code,
            registration.c.status.in_(OPEN_STATUSES),
            registration.c.id_number.in_(chunk),
        )
        on_roster = select(student.c.id_number).where(
            student.c.school_code == school_code,
            student.c.status.in_(STUDENT_ACTIVE_STATUSES),
            student.c.id_number.in_(chunk),
        )
        result = await session.execute(open_requests.union(on_roster))
        taken.update(number for number in result.scalars() if number is not None)
    return taken


def _status_in(statuses: Sequence[str]) -> ColumnElement[bool]:
    """``status IN (…)`` spelled as plain comparisons: an expanding IN cannot be executemany'd."""
    return or_(*(registration.c.status == status for status in statuses))


async def get_registration(session: AsyncSession, registration_id: str) -> Row[Any] | None:
    result = await session.execute(
        select(registration).where(registration.c.registration_id == registration_id)
    )
    return result.one_or_none()


async def mark_held(
    session: AsyncSession, school_code: str, ids: Sequence[str], by: str, now: datetime
) -> None:
    """``held_for_review`` for ``ids`` still pending (one UPDATE)."""
    if not ids:
        return
    target = RegistrationStatus.HELD_FOR_REVIEW
    await session.execute(
        update(registration)
        .where(
            registration.c.school_code == school_code,
            registration.c.registration_id.in_(ids),
            registration.c.status.in_(sources_of(target)),
        )
        .values(status=target, decided_by=by, updated_at=now)
    )


async def mark_rejected(
    session: AsyncSession,
    school_code: str,
    rejections: Sequence[tuple[str, str | None, str | None]],
    by: str,
    now: datetime,
) -> None:
    """``rejected`` with each item's reason and rule, for items still open (one executemany)."""
    if not rejections:
        return
    target = RegistrationStatus.REJECTED
    statement = (
        update(registration)
        .where(
            registration.c.school_code == school_code,
            registration.c.registration_id == bindparam(_ID),
            _status_in(sources_of(target)),
        )
        .values(
            status=target,
            reason=bindparam(_REASON),
            rule=bindparam(_RULE),
            decided_by=by,
            updated_at=now,
        )
    )
    params = [{_ID: rid, _REASON: reason, _RULE: rule} for rid, reason, rule in rejections]
    await session.execute(statement, params)


async def mark_issued(
    session: AsyncSession,
    school_code: str,
    issued: Sequence[tuple[str, str]],
    by: str,
    now: datetime,
) -> None:
    """``approved`` with the issued student number, for items still open (one executemany)."""
    if not issued:
        return
    target = RegistrationStatus.APPROVED
    statement = (
        update(registration)
        .where(
            registration.c.school_code == school_code,
            registration.c.registration_id == bindparam(_ID),
            _status_in(sources_of(target)),
        )
        .values(status=target, student_number=bindparam(_NUMBER), decided_by=by, updated_at=now)
    )
    await session.execute(statement, [{_ID: rid, _NUMBER: number} for rid, number in issued])


async def enrol_approved(
    session: AsyncSession, school_code: str, ids: Sequence[str], now: datetime
) -> None:
    """Put the approved registrations among ``ids`` on the roster, unless already there
    (one ``INSERT … SELECT``)."""
    if not ids:
        return
    stamp = literal(now, DateTime(timezone=True))
    source = select(
        registration.c.school_code,
        registration.c.student_number,
        registration.c.registration_id,
        *(registration.c[name] for name in BASIC_COLUMNS),
        literal(StudentStatus.ENROLLED.value, String(20)),
        stamp,
        stamp,
    ).where(
        registration.c.school_code == school_code,
        registration.c.registration_id.in_(ids),
        registration.c.status == RegistrationStatus.APPROVED,
        registration.c.student_number.is_not(None),
        ~exists().where(student.c.registration_id == registration.c.registration_id),
    )
    columns = [
        "school_code",
        "student_number",
        "registration_id",
        *BASIC_COLUMNS,
        "status",
        "created_at",
        "updated_at",
    ]
    await session.execute(insert(student).from_select(columns, source))


# --- roster ------------------------------------------------------------------------------


async def enrolled_by_grade(session: AsyncSession, school_code: str) -> dict[int, int]:
    """How many enrolled students each grade has: one GROUP BY inside one school's rows
    (``ix_school_student_roster``: school, status, grade)."""
    rows = await session.execute(
        select(student.c.grade, func.count())
        .where(student.c.school_code == school_code, student.c.status == "enrolled")
        .group_by(student.c.grade)
        .order_by(student.c.grade)
    )
    return {int(grade): int(count) for grade, count in rows.all()}


async def list_students(
    session: AsyncSession,
    school_code: str,
    *,
    grade: int | None,
    status: str | None,
    limit: int,
    offset: int,
    class_name: str | None = None,
    search: str | None = None,
) -> tuple[list[Row[Any]], int]:
    """One page of the roster (by grade, then student number) and the number of matches.

    ``search`` is a student number or ID number (exact, upper-cased) or a part of a name;
    every condition stays inside one school's rows (``ix_school_student_roster``). Students
    who left for another school are not on it (decision 0043: the history list has them)."""
    conditions = [
        student.c.school_code == school_code,
        student.c.status.not_in([str(s) for s in DEPARTED_STATUSES]),
    ]
    if grade is not None:
        conditions.append(student.c.grade == grade)
    if status is not None:
        conditions.append(student.c.status == status)
    if class_name is not None:
        conditions.append(student.c.class_name == class_name)
    if search:
        exact = search.upper()
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            or_(
                student.c.student_number == exact,
                student.c.id_number == exact,
                student.c.name.like(pattern, escape="\\"),
            )
        )
    where = and_(*conditions)
    total = (
        await session.execute(select(func.count()).select_from(student).where(where))
    ).scalar_one()
    page = await session.execute(
        select(student)
        .where(where)
        .order_by(student.c.grade, student.c.student_number)
        .limit(limit)
        .offset(offset)
    )
    return list(page.all()), int(total)


async def list_registrations(
    session: AsyncSession, school_code: str, *, status: str | None, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """One page of a school's registrations, newest first, and the number of matches."""
    conditions = [registration.c.school_code == school_code]
    if status is not None:
        conditions.append(registration.c.status == status)
    where = and_(*conditions)
    total = (
        await session.execute(select(func.count()).select_from(registration).where(where))
    ).scalar_one()
    page = await session.execute(
        select(registration)
        .where(where)
        .order_by(registration.c.submitted_at.desc(), registration.c.registration_id)
        .limit(limit)
        .offset(offset)
    )
    return list(page.all()), int(total)


async def get_student(
    session: AsyncSession, school_code: str, student_number: str
) -> Row[Any] | None:
    result = await session.execute(
        select(student).where(
            student.c.school_code == school_code, student.c.student_number == student_number
        )
    )
    return result.one_or_none()


async def update_key_fields(
    session: AsyncSession,
    school_code: str,
    student_number: str,
    values: Mapping[str, Any],
) -> None:
    await session.execute(
        update(student)
        .where(student.c.school_code == school_code, student.c.student_number == student_number)
        .values(**values)
    )


# --- admission jobs ----------------------------------------------------------------------


async def insert_job(session: AsyncSession, row: Mapping[str, Any]) -> None:
    await session.execute(insert(admission_job).values(**row))


async def insert_job_errors(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await session.execute(insert(admission_error), list(rows))


async def get_job(session: AsyncSession, job_id: str) -> Row[Any] | None:
    result = await session.execute(select(admission_job).where(admission_job.c.job_id == job_id))
    return result.one_or_none()


async def job_statuses(session: AsyncSession, job_id: str) -> dict[str, int]:
    """How many of a job's registrations are in each status."""
    result = await session.execute(
        select(registration.c.status, func.count())
        .where(registration.c.job_id == job_id)
        .group_by(registration.c.status)
    )
    return {status: int(count) for status, count in result.all()}


async def job_errors(session: AsyncSession, job_id: str) -> list[Row[Any]]:
    result = await session.execute(
        select(admission_error)
        .where(admission_error.c.job_id == job_id)
        .order_by(admission_error.c.row_number, admission_error.c.id)
    )
    return list(result.all())


# --- key-field changes -------------------------------------------------------------------


async def insert_change(
    session: AsyncSession, row: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]] = ()
) -> None:
    """A key-field change and its proof documents (one statement per table)."""
    await session.execute(insert(key_field_change).values(**row))
    if proofs:
        await session.execute(insert(key_field_change_proof), list(proofs))


async def change_proof(session: AsyncSession, change_id: str, position: int) -> Row[Any] | None:
    found = await session.execute(
        select(key_field_change_proof).where(
            key_field_change_proof.c.change_id == change_id,
            key_field_change_proof.c.position == position,
        )
    )
    return found.one_or_none()


async def get_change(session: AsyncSession, change_id: str) -> Row[Any] | None:
    result = await session.execute(
        select(key_field_change).where(key_field_change.c.change_id == change_id)
    )
    return result.one_or_none()


async def has_open_change(session: AsyncSession, school_code: str, student_number: str) -> bool:
    query = select(
        exists().where(
            key_field_change.c.school_code == school_code,
            key_field_change.c.student_number == student_number,
            key_field_change.c.status == KeyFieldChangeStatus.SUBMITTED,
        )
    )
    return bool((await session.execute(query)).scalar_one())


async def close_change(session: AsyncSession, change_id: str, values: Mapping[str, Any]) -> bool:
    """Record the decision of a change still open; False if it was already decided."""
    result = await session.execute(
        update(key_field_change)
        .where(
            key_field_change.c.change_id == change_id,
            key_field_change.c.status == KeyFieldChangeStatus.SUBMITTED,
        )
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


# --- documents ---------------------------------------------------------------------------


async def class_students(
    session: AsyncSession, school_code: str, class_name: str, statuses: Sequence[str]
) -> list[Row[Any]]:
    """A class's students in ``statuses``, by student number (``ix_school_student_class``)."""
    result = await session.execute(
        select(student)
        .where(
            student.c.school_code == school_code,
            student.c.class_name == class_name,
            student.c.status.in_(statuses),
        )
        .order_by(student.c.student_number)
    )
    return list(result.all())
