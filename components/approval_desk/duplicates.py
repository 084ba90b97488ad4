"""A duplicate admission resolution at an authority (重复招生处理, LS 2(三): "双方学校教育主管
部门核办"): national asks the authority of each school (one task when both schools have the
same authority); the officer reads the attendance proof at the real school and approves or
rejects; the decision goes back to national (``duplicate.approval_decided``, see
``decisions``)."""

from __future__ import annotations

import logging
import uuid

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.intake import governed_school, task_row
from shared.contracts.duplicates import DuplicateApprovalRequested
from shared.federation.config import Tier, UnitRef
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


def proof_url(desk: ApprovalDesk, real_school: str, resolution_id: uuid.UUID, index: int) -> str:
    """Where the real school serves the attendance proof (absolute when its instance is known)."""
    path = f"/api/v1/duplicate-resolutions/{resolution_id}/proofs/{index}"
    unit = UnitRef(tier=Tier.SCHOOL, code=real_school)
    instance = desk.runtime.federation.instance_hosting(unit)
    return f"http://{instance.host}:{instance.port}{path}" if instance else path


async def receive_request(
    desk: ApprovalDesk, ctx: HandlerContext, request: DuplicateApprovalRequested
) -> None:
    """One task per resolution at this unit (a redelivery is recognised and ignored)."""
    code = request.real_school if "real_authority" in request.roles else request.other_school
    school = governed_school(desk, ctx.unit, code)
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.DUPLICATE_RESOLUTION, request.resolution_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("duplicate resolution %s already has a task at %s", subject, ctx.unit)
        return
    details = {
        "student_number": request.student_number,
        "real_school": request.real_school,
        "other_school": request.other_school,
        "roles": list(request.roles),
        "reason": request.reason,
        "proofs": [
            {
                **p.model_dump(mode="json"),
                "url": proof_url(desk, request.real_school, subject, p.index),
            }
            for p in request.proofs
        ],
    }
    await tasks.add(task_row(desk, ctx, kind, school, subject, 0, 0, details))
    log.info("duplicate resolution %s: task opened at %s", subject, ctx.unit)
