"""Use case: an authority approved a school's graduating list; national applies it set-based
(毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一): "确保学生的毕业操作在每年 7 月 30 日之前完成").

A fixed number of statements whatever the size of the list: one ``SELECT … WHERE
student_number IN (…)`` per 500 numbers, the verdicts in memory (:mod:`..domain.graduation`),
then at most one ``UPDATE`` per outcome (``graduated`` / ``completed`` / ``incomplete``), each
guarded by the statuses the state machine allows and ``active_transfer_id IS NULL`` — a transfer
that claimed a student in between makes the row count differ and the batch fail and retry,
never half-apply. One ``graduation.batch_decided`` to the school and one to its province.

After July 30: national applies what the authority approved whenever it arrives (the date
rule is the school's, with an explicit late reason the officer sees; decision 0015). The
August 10 promotion never moves a graduate: it only touches ``enrolled`` students.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import RegistryEntry
from services.national.domain.graduation import (
    CHANGE_OF,
    Registered,
    graduation_refusal,
    target_status,
)
from services.national.domain.status import BY_CHANGE
from services.national.domain.transfer_rules import GRADUATING_GRADE
from services.national.service_layer.change_log import (
    GRADUATED,
    decider_or_unit,
    log_changes,
    numbers_in,
)
from services.national.service_layer.ports import DECIDED_BY, tell_school_and_province
from shared.contracts.graduation import (
    GraduationBatchApproved,
    GraduationBatchDecided,
    GraduationItem,
    GraduationRefusal,
)
from shared.federation.config import Federation
from shared.messaging.emit import Emit

log = logging.getLogger(__name__)

_entry: Table = RegistryEntry.__table__  # type: ignore[assignment]
_CHUNK = 500


class GraduationRace(RuntimeError):
    """The registry changed between the verdicts and the update: retry the whole batch."""


async def registered(session: AsyncSession, numbers: Sequence[str]) -> dict[str, Registered]:
    """The registry's view of the listed students (one query per 500 numbers)."""
    found: dict[str, Registered] = {}
    for chunk in _chunks(numbers):
        rows = await session.execute(
            select(
                _entry.c.student_number,
                _entry.c.school_code,
                _entry.c.grade,
                _entry.c.status,
                _entry.c.active_transfer_id,
            ).where(_entry.c.student_number.in_(chunk))
        )
        for number, school, grade, status, transfer in rows:
            found[number] = Registered(school, int(grade), status, transfer is not None)
    return found


async def set_status(
    session: AsyncSession,
    school_code: str,
    outcome: str,
    numbers: Sequence[str],
    now: datetime,
    graduation_year: int | None = None,
) -> int:
    """One guarded UPDATE per 500 numbers of one outcome; the rows changed. The year the
    students left is kept: a progression names a cohort by it (LS 3(二))."""
    sources = [s.value for s in BY_CHANGE[CHANGE_OF[outcome]].sources if s is not None]
    changed = 0
    for chunk in _chunks(numbers):
        result = await session.execute(
            update(_entry)
            .where(
                _entry.c.student_number.in_(chunk),
                _entry.c.school_code == school_code,
                _entry.c.status.in_(sources),
                _entry.c.active_transfer_id.is_(None),
            )
            .values(
                status=target_status(outcome).value,
                updated_at=now,
                graduation_year=graduation_year,
            )
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def apply_graduation(
    session: AsyncSession,
    emit: Emit,
    federation: Federation,
    batch: GraduationBatchApproved,
    now: datetime,
) -> GraduationBatchDecided:
    """Apply the approved list: who graduates, who is refused and why; tell school and
    province."""
    school = federation.school(batch.school_code)
    last = GRADUATING_GRADE.get(school.stage) if school is not None else None
    view = await registered(session, [item.student_number for item in batch.items])
    applied: dict[str, list[GraduationItem]] = defaultdict(list)
    refused: list[GraduationRefusal] = []
    for item in batch.items:
        refusal = graduation_refusal(
            item.outcome, batch.school_code, last, view.get(item.student_number)
        )
        if refusal is None:
            applied[item.outcome].append(item)
        else:
            refused.append(GraduationRefusal(student_number=item.student_number, **vars(refusal)))
    for outcome, items in applied.items():
        numbers = [item.student_number for item in items]
        year = batch.graduation_year
        if await set_status(session, batch.school_code, outcome, numbers, now, year) != len(
            numbers
        ):
            raise GraduationRace(f"graduation batch {batch.batch_id}: the registry moved")
    decider = decider_or_unit(batch.approver, batch.authority)
    graduated = [item.student_number for items in applied.values() for item in items]
    for chunk in _chunks(graduated):
        await log_changes(
            session,
            kind=GRADUATED,
            subject_id=str(batch.batch_id),
            decider=decider,
            at=now,
            where=numbers_in(chunk),
        )
    decided = GraduationBatchDecided(
        batch_id=batch.batch_id,
        school_code=batch.school_code,
        graduation_year=batch.graduation_year,
        outcome="approved",
        decided_by=DECIDED_BY,
        decider=decider,
        applied=tuple(i for items in applied.values() for i in items),
        refused=tuple(refused),
    )
    await tell_school_and_province(emit, decided, batch.school_code)
    log.info(
        "graduation batch %s of school %s: %d applied, %d refused",
        batch.batch_id,
        batch.school_code,
        len(decided.applied),
        len(refused),
    )
    return decided


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
