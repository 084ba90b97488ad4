"""The archives follow a progressed cohort (升学: N2013 art. 9, LS 5(三) — "学生升学…学籍档案
转至新学校，原学校保留电子档案备份").

A progression completes for a whole cohort at once (``progression.completed``, decision 0033);
each student's archive then goes exactly as a transferred student's does
(:mod:`.archive_transfer`): moved to the new school within the province, or handed to the
receiving province across a border, the graduating school keeping its electronic backup. Each
student's move goes by :func:`shared.contracts.progression.item_reference` wherever a
per-student id is kept (the section-1 entry, the backup, the hand-over and its receipt).
"""

from __future__ import annotations

from datetime import datetime

from services.province.service_layer.archive_transfer import Completion, on_completed_many
from shared.contracts.progression import ProgressionCompleted, item_reference
from shared.contracts.transfer import TransferCompleted
from shared.federation.config import School
from shared.messaging.handlers import HandlerContext


def completions(
    ctx: HandlerContext, from_school: School, to_school: School, completed: ProgressionCompleted
) -> list[Completion]:
    """One archive move per student of the cohort."""
    return [
        Completion(
            ctx,
            from_school,
            to_school,
            TransferCompleted(
                transfer_id=item_reference(completed.progression_id, s.student_number),
                student_number=s.student_number,
                from_school=completed.from_school,
                to_school=completed.to_school,
                grade=completed.grade,
                completed_at=completed.completed_at,
                archive_due_on=completed.archive_due_on,
                student=s.student,
                basic=s.basic,
            ),
        )
        for s in completed.students
    ]


async def on_completed(moves: list[Completion], now: datetime) -> None:
    """Move, hand over or wait for every archive of the cohort (set-based)."""
    await on_completed_many(moves, now)
