"""A school's graduating list at its authority (毕业审核, LS 3(一); ZJ arts. 24-26).

The list becomes one task (``graduation_batch``): the officer reads the students and their
outcomes and approves or rejects the whole list (a wrong line is corrected by the school in
a new list; national refuses, student by student, what the registry does not allow). A list
sent after July 30 carries the school's reason and is flagged (``graduation_late``) so the
officer decides knowingly. Approval → ``graduation.batch_approved`` to national; rejection →
``graduation.batch_decided`` (rejected) to the school and its province (in ``decisions``).
"""

from __future__ import annotations

import logging
from collections import Counter

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Finding, TaskKind
from components.approval_desk.intake import submitted_by_school, task_row
from shared.contracts.graduation import GraduationBatchSubmitted
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)

RULE_LATE = "graduation_late"


async def receive_graduation_batch(
    desk: ApprovalDesk, ctx: HandlerContext, batch: GraduationBatchSubmitted
) -> None:
    """Open a task for a graduating list (a re-sent list is recognised and ignored)."""
    school = submitted_by_school(desk, ctx, batch.school_code, "its graduating list")
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.GRADUATION_BATCH, batch.batch_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("graduation batch %s already has a task at %s; ignored", subject, ctx.unit)
        return
    findings = []
    if batch.late_reason:
        findings.append(
            Finding(RULE_LATE, "sent after July 30 (LS 3(一)); the school gives its reason")
        )
    details = {
        "graduation_year": batch.graduation_year,
        "items": [item.model_dump(mode="json") for item in batch.items],
        "counts": dict(Counter(item.outcome for item in batch.items)),
        "late_reason": batch.late_reason,
        "findings": [f.as_dict() for f in findings],
    }
    task = task_row(desk, ctx, kind, school, subject, len(batch.items), len(findings), details)
    await tasks.add(task)
    log.info("graduation batch %s at %s: %d students", subject, ctx.unit, len(batch.items))
