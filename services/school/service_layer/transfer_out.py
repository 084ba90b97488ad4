"""The sending school's side of a transfer (转出): its step, and the student leaving —
N2013 art. 14, HA art. 11(二)(三), ZJ art. 13.

National opens the sending school's step (``transfer.step_opened``, role ``sending_school``):
the school gets a task with the student's summary, the receiving school, the family's reason,
links to the proofs at the receiving school and the due date (10 working days); its decision
goes back to national as ``transfer.step_decided``. A reminder marks the task; a transfer
closed elsewhere voids it. When the transfer completes, the student's roster entry here
becomes ``transferred_out``: the basic record stays (read-only: no further changes are
accepted for the student here), the class placement goes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import transfer_repository as transfers
from services.school.domain.transfers import (
    TASK_KIND,
    TaskStatus,
    decided_status,
)
from shared.audit.recording import annotate, outcome_of, record_item
from shared.contracts.transfer import (
    TransferClosed,
    TransferCompleted,
    TransferStepDecided,
    TransferStepOpened,
    TransferStepReminder,
    TransferStepSettled,
)
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.federation.links import proof_links
from shared.messaging.envelope import current_trace_context
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepDecision:
    """The school's decision on its step: approve, or reject with a reason."""

    decision: Literal["approve", "reject"]
    decided_by: str
    reason: str | None = None


async def open_task(
    ctx: HandlerContext, federation: Federation, step: TransferStepOpened, now: datetime
) -> None:
    """The sending school's step becomes a task, once per step."""
    school_code = ctx.unit.code
    if step.role != "sending_school" or step.from_school != school_code:
        raise PermanentMessageError(
            f"step {step.step_id} ({step.role}) of transfer {step.transfer_id} is not {ctx.unit}'s"
        )
    if await transfers.task_for_step(ctx.session, school_code, str(step.step_id)):
        log.info("step %s already has a task at %s; ignored", step.step_id, ctx.unit)
        return
    status = await transfers.roster_status(ctx.session, school_code, step.student_number)
    await transfers.insert_task(
        ctx.session,
        {
            "task_id": str(uuid.uuid4()),
            "school_code": school_code,
            "kind": TASK_KIND,
            "status": TaskStatus.OPEN.value,
            "transfer_id": str(step.transfer_id),
            "step_id": str(step.step_id),
            # the transfer's trace: the registrar's decision continues it
            "details": {**_details(federation, step, status), TRACE_KEY: current_trace_context()},
            "opened_at": now,
            "due_on": step.due_on,
            "due_approximate": step.due_approximate,
            "correlation_id": str(ctx.envelope.correlation_id),
            "message_id": str(ctx.envelope.message_id),
        },
    )
    log.info("transfer %s: task opened at %s", step.transfer_id, ctx.unit)


TRACE_KEY = "trace_context"


def _details(
    federation: Federation, step: TransferStepOpened, roster_status: str | None
) -> dict[str, Any]:
    return {
        "role": step.role,
        "student_number": step.student_number,
        "student": step.student.model_dump(mode="json"),
        "roster_status": roster_status,
        "from_school": step.from_school,
        "to_school": step.to_school,
        "reason": step.reason,
        "opened_on": step.opened_on.isoformat(),
        "proofs": proof_links(federation, step),
    }


async def note_reminder(
    session: AsyncSession, school_code: str, reminder: TransferStepReminder, now: datetime
) -> None:
    if not await transfers.mark_reminded(session, school_code, str(reminder.step_id), now):
        log.info("reminder for step %s at %s: no open task", reminder.step_id, school_code)


async def void_tasks(
    session: AsyncSession, school_code: str, closed: TransferClosed, now: datetime
) -> int:
    """The transfer ended elsewhere: this school's open tasks of it are void."""
    reason = f"transfer {closed.outcome}: {closed.reason}"[:500]
    return await transfers.void_tasks(
        session, school_code, str(closed.transfer_id), at=now, reason=reason
    )


async def void_settled(
    session: AsyncSession, school_code: str, settled: TransferStepSettled, now: datetime
) -> int:
    """The school's authority decided the school's overdue step in its place (HA art. 11(三)):
    the school's task for that step is void."""
    reason = f"decided ({settled.decision}) by intervention of {settled.decided_unit}"
    return await transfers.void_step_tasks(
        session, school_code, str(settled.step_id), at=now, reason=reason
    )


async def leave(
    session: AsyncSession, school_code: str, completed: TransferCompleted, now: datetime
) -> None:
    """The student left for the receiving school: the roster entry is ``transferred_out``.
    A task still open here (the county decided in the school's place) has nothing left to
    decide: it is void."""
    if not await transfers.mark_transferred_out(
        session, school_code, completed.student_number, now
    ):
        log.info("transfer %s: no enrolled roster entry at %s", completed.transfer_id, school_code)
    await transfers.void_tasks(
        session,
        school_code,
        str(completed.transfer_id),
        at=now,
        reason="transfer completed: the step was decided by the superior",
    )


# --- the officer's decision --------------------------------------------------------------


async def get_task(
    session: AsyncSession, task_id: uuid.UUID, hosts: Callable[[str], bool]
) -> Row[Any]:
    row = await transfers.get_task(session, str(task_id))
    if row is None or not hosts(row.school_code):
        raise NotFound(f"task {task_id} not found", rule="task_not_found")
    annotate(unit_kind="school", unit_code=row.school_code)
    return row


async def decide(
    uow: UnitOfWork,
    task_id: uuid.UUID,
    decision: StepDecision,
    hosts: Callable[[str], bool],
    *,
    now: datetime,
) -> None:
    """Record the school's decision and answer national (``transfer.step_decided``)."""
    row = await get_task(uow.session, task_id, hosts)
    annotate(purpose=decision.reason)
    await _decide(uow, row, decision, now)
    await uow.commit()
    log.info("task %s %sd at %s", task_id, decision.decision, row.school_code)


async def decide_many(
    uow: UnitOfWork,
    decisions: Sequence[tuple[uuid.UUID, StepDecision]],
    hosts: Callable[[str], bool],
    *,
    now: datetime,
) -> list[DomainError | str]:
    """Several decisions in one unit of work: for each, in order, the task's new status or
    the refusal it would have had alone (404, 409). A refused task leaves nothing behind (its
    refusal comes before its writes); the audit trail gets one entry per task."""
    rows = await transfers.get_tasks(uow.session, [str(task_id) for task_id, _ in decisions])
    results: list[DomainError | str] = []
    for task_id, decision in decisions:
        row = rows.get(str(task_id))
        school = row.school_code if row is not None and hosts(row.school_code) else None
        try:
            if row is None or school is None:
                raise NotFound(f"task {task_id} not found", rule="task_not_found")
            results.append(await _decide(uow, row, decision, now))
            outcome = "ok"
        except DomainError as refused:
            results.append(refused)
            outcome = outcome_of(refused)
        record_item(
            str(task_id),
            unit_kind="school" if school else None,
            unit_code=school,
            purpose=decision.reason,
            outcome=outcome,
        )
    await uow.commit()
    log.info("%d tasks decided in one request", len(decisions))
    return results


async def _decide(uow: UnitOfWork, row: Row[Any], decision: StepDecision, now: datetime) -> str:
    if row.status != TaskStatus.OPEN:
        raise Conflict(f"the task is already {row.status}", rule="task_already_decided")
    status = decided_status(decision.decision)
    if not await transfers.close_task(
        uow.session,
        row.task_id,
        status,
        at=now,
        by=decision.decided_by,
        reason=decision.reason,
    ):
        raise Conflict("the task was decided meanwhile", rule="task_already_decided")
    school = UnitRef(tier=Tier.SCHOOL, code=row.school_code)
    decided = TransferStepDecided(
        transfer_id=uuid.UUID(row.transfer_id),
        step_id=uuid.UUID(row.step_id),
        decision=decision.decision,
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(school),
    )
    await uow.emit(
        decided,
        source=school,
        target=NATIONAL,
        correlation_id=uuid.UUID(row.correlation_id),
        causation_id=uuid.UUID(row.message_id),
        trace_context=row.details.get(TRACE_KEY),
    )
    return str(status)


async def list_tasks(
    session: AsyncSession,
    school_code: str,
    *,
    status: str | None,
    overdue_on: date | None,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    return await transfers.list_tasks(
        session, school_code, status=status, overdue_on=overdue_on, limit=limit, offset=offset
    )
