"""Use case: the school applies national's August 10 promotion to its roster (升级, LS 3(一);
N2013 art. 12: normal promotion is done by the system, not by the school).

``registry.promoted`` carries the rule national applied — every ``enrolled`` student below the
school's graduating grade moved up one — and national's count per grade. The school applies
the same rule to its roster, set-based: one UPDATE per grade, from the highest grade down (so
no student moves twice), each ``WHERE school_code = ? AND status = 'enrolled' AND grade = ?``
on the roster index. The row counts are compared with national's; a difference means the
roster and the registry disagree about who is enrolled (N2013 art. 24: people must match the
records) and is logged — counts and grades only, never a student — for the term's check.

Once per school year: national sends one message per (school, year) with an id derived from
them (``shared/contracts/status.py``), so a redelivery is dropped by the inbox before it gets
here; a second copy inside one delivery batch is skipped here. The class a student sits in
(``class_name``) is the school's to set for the new year and is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import student
from services.school.domain.students import StudentStatus
from shared.clock import Clock
from shared.contracts.status import RegistryPromoted
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


async def apply_promoted(
    contexts: Sequence[HandlerContext], payloads: Sequence[RegistryPromoted]
) -> None:
    """national → school: promote the roster of each school a run of messages names."""
    now = Clock().now()
    done: set[tuple[str, int]] = set()
    for ctx, promoted in zip(contexts, payloads, strict=True):
        if ctx.unit.code != promoted.school_code:
            raise PermanentMessageError(
                f"the promotion of school {promoted.school_code} was addressed to {ctx.unit}"
            )
        key = (promoted.school_code, promoted.school_year)
        if key in done:
            continue
        done.add(key)
        counts = await promote_roster(ctx.session, promoted, now)
        report_differences(promoted, counts)


async def promote_roster(
    session: AsyncSession, promoted: RegistryPromoted, now: datetime
) -> dict[int, int]:
    """Move the school's enrolled students below the graduating grade up one; the number
    moved per grade (before the promotion)."""
    counts: dict[int, int] = {}
    for grade in range(promoted.graduating_grade - 1, 0, -1):
        result = await session.execute(
            update(student)
            .where(
                student.c.school_code == promoted.school_code,
                student.c.status == StudentStatus.ENROLLED.value,
                student.c.grade == grade,
            )
            .values(grade=grade + 1, updated_at=now)
        )
        moved = int(getattr(result, "rowcount", 0) or 0)
        if moved:
            counts[grade] = moved
    return dict(sorted(counts.items()))


def report_differences(promoted: RegistryPromoted, counts: dict[int, int]) -> None:
    national = {item.grade: item.count for item in promoted.promoted}
    for grade in sorted(set(national) | set(counts)):
        if national.get(grade, 0) != counts.get(grade, 0):
            log.warning(
                "promotion %s of school %s: national moved %d students up from grade %d, "
                "the roster %d",
                promoted.school_year,
                promoted.school_code,
                national.get(grade, 0),
                grade,
                counts.get(grade, 0),
            )
