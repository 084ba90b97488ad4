"""Use case: the school's graduating list (毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一)).

The school sends, per school batch, the students leaving this July and what their
certificate says: ``graduated``, ``completed`` or ``incomplete``. One request, one message
(``graduation.batch_submitted``) to the school's authority; the rules are in
:mod:`services.school.domain.graduation`, every refused line named with its rule (422).

The decision comes back as ``graduation.batch_decided``: from the authority (the list
rejected) or from national (the list applied, some students possibly refused by the
registry, each with its rule). The roster follows set-based: one UPDATE per outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import graduation_batch, graduation_item, student
from services.school.domain.graduation import deadline_refusal, student_refusal
from services.school.domain.students import Violation
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.submission import school_unit
from shared.contracts.graduation import (
    GraduationBatchDecided,
    GraduationBatchSubmitted,
    GraduationItem,
)
from shared.federation.config import School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import DomainError, NotFound

PENDING, APPLIED, REFUSED, REJECTED = "pending", "applied", "refused", "rejected"
_CHUNK = 500


async def submit_list(
    uow: UnitOfWork,
    school: School,
    graduation_year: int,
    items: Sequence[GraduationItem],
    late_reason: str | None,
    *,
    today: date,
    now: datetime,
) -> uuid.UUID:
    """Check the list against the roster and send it to the authority; its batch id."""
    late = deadline_refusal(graduation_year, today, late_reason)
    if late is not None:
        raise DomainError(late.message, rule=late.rule)
    numbers = [item.student_number for item in items]
    roster = await _roster(uow.session, school.code, numbers)
    pending = await _pending(uow.session, school.code, numbers)
    violations = []
    for index, item in enumerate(items):
        row = roster.get(item.student_number)
        refusal = student_refusal(
            item.outcome,
            row.status if row else None,
            row.grade if row else None,
            school.stage,
            item.student_number in pending,
        )
        if refusal is not None:
            violations.append(
                Violation(f"items.{index}.student_number", refusal.rule, refusal.message)
            )
    if violations:
        raise InvalidInput(violations)
    batch_id = uuid.uuid4()
    await _insert(uow.session, batch_id, school.code, graduation_year, items, late_reason, now)
    submitted = GraduationBatchSubmitted(
        batch_id=batch_id,
        school_code=school.code,
        graduation_year=graduation_year,
        items=tuple(items),
        late_reason=(late_reason or "").strip() or None,
    )
    emit = uow.emitter(school_unit(school))
    await emit(submitted, target=school.authority_unit)
    return batch_id


async def apply_decision(
    session: AsyncSession, decided: GraduationBatchDecided, now: datetime
) -> None:
    """Record the decision and update the roster; a decided list stays decided (a late or
    repeated decision changes nothing)."""
    batch = (
        await session.execute(
            select(graduation_batch).where(graduation_batch.c.batch_id == str(decided.batch_id))
        )
    ).one_or_none()
    if batch is None or batch.school_code != decided.school_code:
        raise PermanentMessageError(f"graduation batch {decided.batch_id} is not known here")
    if batch.status != "submitted":
        return
    await session.execute(
        update(graduation_batch)
        .where(graduation_batch.c.batch_id == batch.batch_id)
        .values(
            status=decided.outcome,
            applied_count=len(decided.applied),
            decided_by=decided.decided_by,
            reason=decided.reason,
            rule=decided.rule,
            decided_at=now,
        )
    )
    if decided.outcome == "rejected":
        await _settle_items(session, batch.batch_id, None, REJECTED, decided.reason, decided.rule)
        return
    if decided.refused:  # one executemany, whatever the number of refusals
        await session.execute(
            update(graduation_item)
            .where(
                graduation_item.c.batch_id == batch.batch_id,
                graduation_item.c.student_number == bindparam("number"),
            )
            .values(status=REFUSED, reason=bindparam("why"), rule=bindparam("because")),
            [
                {"number": r.student_number, "why": r.reason, "because": r.rule}
                for r in decided.refused
            ],
        )
    by_outcome: dict[str, list[str]] = {}
    for item in decided.applied:
        by_outcome.setdefault(item.outcome, []).append(item.student_number)
    for outcome, numbers in by_outcome.items():
        await _settle_items(session, batch.batch_id, numbers, APPLIED, None, None)
        for chunk in _chunks(numbers):
            await session.execute(
                update(student)
                .where(
                    student.c.school_code == batch.school_code, student.c.student_number.in_(chunk)
                )
                .values(status=outcome, class_name=None, updated_at=now)
            )


async def read_list(
    session: AsyncSession, school_code: str, batch_id: uuid.UUID
) -> tuple[Row[Any], list[Row[Any]]]:
    batch = (
        await session.execute(
            select(graduation_batch).where(
                graduation_batch.c.batch_id == str(batch_id),
                graduation_batch.c.school_code == school_code,
            )
        )
    ).one_or_none()
    if batch is None:
        raise NotFound(f"graduation batch {batch_id} is not known at school {school_code}")
    items = await session.execute(
        select(graduation_item)
        .where(graduation_item.c.batch_id == str(batch_id))
        .order_by(graduation_item.c.student_number)
    )
    return batch, list(items.all())


async def list_lists(session: AsyncSession, school_code: str, limit: int) -> list[Row[Any]]:
    """The school's graduating lists, newest first (``ix_school_graduation_batch_list``)."""
    rows = await session.execute(
        select(graduation_batch)
        .where(graduation_batch.c.school_code == school_code)
        .order_by(graduation_batch.c.submitted_at.desc())
        .limit(limit)
    )
    return list(rows.all())


# -- queries ----------------------------------------------------------------------------------


async def _roster(
    session: AsyncSession, school_code: str, numbers: Sequence[str]
) -> dict[str, Row[Any]]:
    found: dict[str, Row[Any]] = {}
    for chunk in _chunks(numbers):
        rows = await session.execute(
            select(student.c.student_number, student.c.status, student.c.grade).where(
                student.c.school_code == school_code, student.c.student_number.in_(chunk)
            )
        )
        found.update({row.student_number: row for row in rows})
    return found


async def _pending(session: AsyncSession, school_code: str, numbers: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(numbers):
        rows = await session.execute(
            select(graduation_item.c.student_number).where(
                graduation_item.c.school_code == school_code,
                graduation_item.c.student_number.in_(chunk),
                graduation_item.c.status == PENDING,
            )
        )
        found.update(rows.scalars())
    return found


async def _insert(
    session: AsyncSession,
    batch_id: uuid.UUID,
    school_code: str,
    graduation_year: int,
    items: Sequence[GraduationItem],
    late_reason: str | None,
    now: datetime,
) -> None:
    await session.execute(
        graduation_batch.insert().values(
            batch_id=str(batch_id),
            school_code=school_code,
            graduation_year=graduation_year,
            status="submitted",
            late_reason=late_reason,
            item_count=len(items),
            submitted_at=now,
        )
    )
    await session.execute(
        graduation_item.insert(),
        [
            {
                "batch_id": str(batch_id),
                "student_number": item.student_number,
                "school_code": school_code,
                "outcome": item.outcome,
                "status": PENDING,
            }
            for item in items
        ],
    )


async def _settle_items(
    session: AsyncSession,
    batch_id: str,
    numbers: Sequence[str] | None,
    status: str,
    reason: str | None,
    rule: str | None,
) -> None:
    chunks: list[Sequence[str] | None] = [None] if numbers is None else list(_chunks(numbers))
    for chunk in chunks:
        where = [graduation_item.c.batch_id == batch_id]
        if chunk is not None:
            where.append(graduation_item.c.student_number.in_(chunk))
        await session.execute(
            update(graduation_item).where(*where).values(status=status, reason=reason, rule=rule)
        )


def _chunks(values: Sequence[str], size: int = _CHUNK) -> list[Sequence[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]
