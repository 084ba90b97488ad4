"""Use case: a duplicate admission was resolved (重复招生处理, LS 2(三)); the archive follows the
student to the school they attend, exactly as after a transfer (籍随人走): moved within the
province, or handed over to the real school's province with the whole archive (N2013 arts. 9,
15). The resolution id stands for the transfer id in the archive's entries and hand-overs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.province.service_layer import archive_transfer
from services.province.service_layer.archive import CHINA
from shared.contracts.duplicates import DuplicateResolutionDecided
from shared.contracts.transfer import StudentSummary, TransferCompleted
from shared.federation.config import School
from shared.messaging.handlers import HandlerContext

HANDOVER_DAYS = 30  # the archive within a month (N2013 art. 15)


async def apply_resolution(
    ctx: HandlerContext,
    other: School,
    real: School,
    decided: DuplicateResolutionDecided,
    now: datetime,
) -> None:
    if decided.outcome != "resolved" or decided.basic is None:
        return
    basic = decided.basic
    moved = TransferCompleted(
        transfer_id=decided.resolution_id,
        student_number=decided.student_number,
        from_school=other.code,
        to_school=real.code,
        grade=basic.grade,
        completed_at=now,
        archive_due_on=now.astimezone(CHINA).date() + timedelta(days=HANDOVER_DAYS),
        student=StudentSummary(
            name=basic.name, gender=basic.gender, birth_date=basic.birth_date, grade=basic.grade
        ),
        basic=basic,
    )
    await archive_transfer.on_completed(ctx, other, real, moved, now)
