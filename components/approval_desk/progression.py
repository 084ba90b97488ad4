"""Progression (升学) as a deciding party takes part in it — N2013 art. 14 ("转出学校及双方学校
学籍主管部门予以核办"), LS 1(二), LS 3(二).

National runs a cohort's progression as a batch (``shared.contracts.progression``, decision
0033); the desk answers its steps as it answers a transfer's, with one difference: one task
for the whole cohort.

- ``progression.step_opened`` for this unit's step → one ``progression_step`` task, each
  student an item (basic info only, as a registration batch's) and the due date (10 working
  days). The officer approves the cohort, possibly rejecting some items (those students are
  left out, each with its reason), or rejects it with a reason; the decision goes to national
  as ``progression.step_decided`` (:func:`.decisions.announce_progression_step`).
- ``progression.step_overdue`` (to a late party's superior) → a ``progression_step`` task
  for the superior, with ``late_party`` in its details: deciding it answers the step on the
  party's behalf (HA art. 11(三)); ``progression.step_settled`` voids the task of whichever
  of the two did not decide.
- ``progression.closed`` → this unit's open tasks of the progression are void.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import SYSTEM, ItemStatus, TaskKind
from components.approval_desk.intake import task_row
from components.approval_desk.transfers import _schools, _unit, is_sending, party_of, superior_of
from shared.contracts.progression import (
    ProgressionClosed,
    ProgressionStepOpened,
    ProgressionStepOverdue,
    ProgressionStepSettled,
    item_reference,
)
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


async def receive_step(
    desk: ApprovalDesk, ctx: HandlerContext, step: ProgressionStepOpened
) -> None:
    """Open one task for this unit's step of a progression (once per step)."""
    from_school, to_school = _schools(desk, step.from_school, step.to_school)
    if party_of(step.role, from_school, to_school) != ctx.unit:
        raise PermanentMessageError(
            f"step {step.step_id} ({step.role}) of progression {step.progression_id} "
            f"is not {ctx.unit}'s"
        )
    tasks = desk.tasks(ctx.session)
    kind = TaskKind.PROGRESSION_STEP
    if await tasks.find_subject(ctx.unit, kind, step.step_id):
        log.info("progression step %s already has a task at %s; ignored", step.step_id, ctx.unit)
        return
    school = from_school if is_sending(step.role) else to_school
    details = _details(step)
    row = task_row(desk, ctx, kind, school, step.step_id, len(step.students), 0, details)
    row.update(
        transfer_id=step.progression_id, due_on=step.due_on, due_approximate=step.due_approximate
    )
    await tasks.add(row, items=_items(row["task_id"], step))
    log.info(
        "progression %s: %s task opened at %s for %d students",
        step.progression_id,
        step.role,
        ctx.unit,
        len(step.students),
    )


async def receive_overdue(
    desk: ApprovalDesk, ctx: HandlerContext, overdue: ProgressionStepOverdue
) -> None:
    """A party this unit supervises let its progression step pass due (HA art. 11(三)): a
    task to decide the step on its behalf (the whole cohort: approve or reject)."""
    party = _unit(overdue.party)
    if superior_of(desk.runtime.federation, party) != ctx.unit:
        raise PermanentMessageError(f"{ctx.unit} is not the superior of {party}")
    from_school, to_school = _schools(desk, overdue.from_school, overdue.to_school)
    tasks = desk.tasks(ctx.session)
    kind = TaskKind.PROGRESSION_STEP
    if await tasks.find_subject(ctx.unit, kind, overdue.step_id):
        log.info("progression step %s already has a task at %s; ignored", overdue.step_id, ctx.unit)
        return
    school = from_school if is_sending(overdue.role) else to_school
    details = {
        "progression_id": str(overdue.progression_id),
        "step_id": str(overdue.step_id),
        "role": overdue.role,
        "from_school": overdue.from_school,
        "to_school": overdue.to_school,
        "grade": overdue.grade,
        "opened_on": overdue.due_on.isoformat(),
        "students": [],
        "late_party": str(party),
    }
    row = task_row(desk, ctx, kind, school, overdue.step_id, overdue.student_count, 0, details)
    row.update(transfer_id=overdue.progression_id, due_on=overdue.due_on)
    await tasks.add(row)
    log.info(
        "progression %s: %s is late; intervention at %s", overdue.progression_id, party, ctx.unit
    )


async def void_settled(
    desk: ApprovalDesk, ctx: HandlerContext, settled: ProgressionStepSettled
) -> None:
    """Someone else decided the step this unit held a task for: that task is void."""
    how = "by intervention of" if settled.intervention else "by"
    count = await desk.tasks(ctx.session).void_step(
        ctx.unit,
        settled.step_id,
        at=desk.now(),
        by=SYSTEM,
        reason=f"progression step decided {how} {settled.decided_unit}",
    )
    log.info("progression step %s settled: %d task(s) void at %s", settled.step_id, count, ctx.unit)


def _details(step: ProgressionStepOpened) -> dict[str, Any]:
    return {
        "progression_id": str(step.progression_id),
        "step_id": str(step.step_id),
        "role": step.role,
        "from_school": step.from_school,
        "to_school": step.to_school,
        "grade": step.grade,
        "opened_on": step.opened_on.isoformat(),
        "students": [
            {
                "item_id": str(item_reference(step.progression_id, s.student_number)),
                "student_number": s.student_number,
                "status": s.status,
            }
            for s in step.students
        ],
    }


def _items(task_id: uuid.UUID, step: ProgressionStepOpened) -> list[dict[str, Any]]:
    return [
        {
            "task_id": task_id,
            "registration_id": item_reference(step.progression_id, s.student_number),
            "position": position,
            "basic": s.basic.model_dump(mode="json"),
            "findings": [],
            "status": ItemStatus.PENDING,
            "reason": None,
        }
        for position, s in enumerate(step.students)
    ]


async def void_closed(desk: ApprovalDesk, ctx: HandlerContext, closed: ProgressionClosed) -> None:
    """The progression ended elsewhere: this unit's open tasks of it are void."""
    count = await desk.tasks(ctx.session).void_transfer(
        ctx.unit,
        closed.progression_id,
        at=desk.now(),
        by=SYSTEM,
        reason=f"progression {closed.outcome}: {closed.reason}"[:500],
    )
    log.info("progression %s: %d task(s) void at %s", closed.progression_id, count, ctx.unit)
