"""Filings with a city / prefecture (备案, decision 0034): one ``filing`` task per filing on
the city's desk, due on the filing's date where it has one (LS 6: September 30). Approving
records the review (审核); nothing else waits on the decision."""

from __future__ import annotations

import logging

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.intake import task_row
from shared.contracts.filing import FilingSubmitted
from shared.federation.config import Tier
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


async def receive_filing(desk: ApprovalDesk, ctx: HandlerContext, filed: FilingSubmitted) -> None:
    """national → city: a filing about one of the city's schools, once per filing id."""
    school = desk.school(filed.school_code)
    if ctx.unit.tier != Tier.CITY or school is None or school.city_unit != ctx.unit:
        raise PermanentMessageError(f"{ctx.unit} files nothing of school {filed.school_code}")
    tasks = desk.tasks(ctx.session)
    kind = TaskKind.FILING
    if await tasks.find_subject(ctx.unit, kind, filed.filing_id):
        log.info("filing %s already has a task at %s; ignored", filed.filing_id, ctx.unit)
        return
    details = {
        "filing": filed.kind,
        "subject_id": str(filed.subject_id),
        "student_numbers": list(filed.student_numbers),
        "grade": filed.grade,
        "effective_on": filed.effective_on.isoformat(),
        "article": filed.article,
    }
    count = len(filed.student_numbers)
    task = task_row(desk, ctx, kind, school, filed.filing_id, count, 0, details)
    task["due_on"] = filed.due_on
    await tasks.add(task)
    log.info(
        "filing %s (%s) of %s at %s: task opened",
        filed.filing_id,
        filed.kind,
        school.code,
        ctx.unit,
    )
