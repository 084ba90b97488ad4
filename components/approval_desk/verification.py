"""A term check's findings at the school's authority (学籍核查, N2013 art. 24; N2025 art. 25):
ghosts and mismatches national found when it compared a school's confirmed roster with the
registry become one task per (campaign, school) in the officer's list. Approving records that
they were dealt with; nothing else waits on the decision.
"""

from __future__ import annotations

import logging
import uuid

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.intake import governed_school, task_row
from shared.contracts.verification import VerificationFindings
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


async def receive_verification_findings(
    desk: ApprovalDesk, ctx: HandlerContext, found: VerificationFindings
) -> None:
    """national → authority: a term check's ghosts and mismatches at one of its schools
    (学籍核查, N2013 art. 24), one task per (campaign, school); a school's later confirmation
    in the same campaign replaces an open task's findings."""
    school = governed_school(desk, ctx.unit, found.school_code)
    tasks = desk.tasks(ctx.session)
    kind = TaskKind.VERIFICATION_FINDINGS
    subject = uuid.uuid5(found.campaign_id, school.code)
    details = {
        "campaign_id": str(found.campaign_id),
        "term": found.term,
        "attending": found.attending,
        "registered": found.registered,
        "findings": [f.model_dump(mode="json") for f in found.findings],
    }
    existing = await tasks.find_subject(ctx.unit, kind, subject)
    if existing is not None:
        # a later confirmation of the same school: its findings replace an open task's (a
        # task already decided stays as decided; national keeps the latest result)
        await tasks.replace_open_details(existing, details, len(found.findings))
        return
    task = task_row(
        desk, ctx, kind, school, subject, len(found.findings), len(found.findings), details
    )
    await tasks.add(task)
    log.info(
        "verification findings for school %s at %s: %d", school.code, ctx.unit, len(found.findings)
    )
