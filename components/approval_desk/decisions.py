"""Deciding a task, by an officer or by the system, and telling the other tiers.

- approve a registration batch → ``registration.batch_approved`` (the approved items only) to
  national, which dedups nationally and issues the student numbers;
- rejected items, or the whole batch rejected → ``registration.batch_decided`` (outcome
  ``rejected``, rule ``authority_rejected``, the officer's reason) to the school and to the
  school's province (which drops the pending extended info);
- approve a key-field change → ``key_field_change.approved`` to national (re-dedup on the new
  key fields); reject → ``key_field_change.decided`` (rejected) to the school and province;
- approve a status change → ``status_change.approved`` to national (registry checks, then
  applied); reject → ``status_change.decided`` (rejected) to the school and province;
- approve a graduating list → ``graduation.batch_approved`` to national; reject →
  ``graduation.batch_decided`` (rejected) to the school and province (``graduation``);
- decide a transfer step or an intervention → ``transfer.step_decided`` to national, naming
  the officer (or ``system``) and the authority unit, ``intervention`` for a superior
  deciding on a late party's behalf (HA art. 11(三)).

The task update and the messages commit together (one unit of work, or the consumer's
transaction for automatic approvals). The officer's name stays in the task; messages name
the authority unit as the decider.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from components.approval_desk.domain import (
    REJECTED_RULE,
    TRACE_KEY,
    TRANSFER_KINDS,
    AlreadyDecided,
    Decision,
    DecisionRefused,
    Plan,
    TaskKind,
    TaskStatus,
    plan_decision,
)
from components.approval_desk.repository import TaskRepository
from components.approval_desk.role import RegistryAuthority, province_unit, school_unit
from shared.audit.recording import annotate, outcome_of, record_item
from shared.contracts.duplicates import DuplicateApprovalDecided
from shared.contracts.graduation import (
    GraduationBatchApproved,
    GraduationBatchDecided,
    GraduationItem,
)
from shared.contracts.registration import (
    KeyFieldChangeApproved,
    KeyFieldChangeDecided,
    KeyFieldChanges,
    RegistrationBatchApproved,
    RegistrationBatchDecided,
    RegistrationItem,
    RegistrationOutcome,
)
from shared.contracts.status import StatusChangeApproved, StatusChangeDecided, StatusChangeFacts
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import ProofRef, TransferStepDecided
from shared.federation.config import NATIONAL, School, UnitRef
from shared.messaging.envelope import Contract
from shared.messaging.handlers import HandlerContext
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


class Emit(Protocol):
    """Stage one message in the current transaction."""

    async def __call__(self, payload: Contract, target: UnitRef) -> object: ...


def handler_emit(ctx: HandlerContext) -> Emit:
    """Emit from a message handler: the addressed unit is the source, causality carried."""

    async def emit(payload: Contract, target: UnitRef) -> object:
        return await ctx.emit(payload, target=target)

    return emit


def task_emit(uow: UnitOfWork, task: Any, source: UnitRef) -> Emit:
    """Emit from a request: continue the flow of the submission that opened ``task``."""

    async def emit(payload: Contract, target: UnitRef) -> object:
        return await uow.emit(
            payload,
            source=source,
            target=target,
            correlation_id=uuid.UUID(task.correlation_id),
            causation_id=uuid.UUID(task.message_id),
            trace_context=task.details.get(TRACE_KEY),
        )

    return emit


async def decide(
    authority: RegistryAuthority,
    task_id: str,
    decision: Decision,
    visible: Callable[[str], bool] | None = None,
) -> None:
    """An officer's decision on a task of a hosted unit (that ``visible`` lets through: the
    officer's own unit): 404, 409 or 422 when it cannot be."""
    async with authority.runtime.unit_of_work() as uow:
        tasks = authority.tasks(uow.session)
        task = await tasks.get(task_id)
        if task is None or not (visible or authority.hosts)(task.authority_unit):
            raise NotFound(f"task {task_id} not found", rule="task_not_found")
        school = _school(authority, task.school_code)
        unit = authority.unit(task.authority_unit)
        annotate(unit_kind=unit.tier, unit_code=unit.code, purpose=decision.reason)
        emit = task_emit(uow, task, unit)
        await settle(authority, tasks, task, school, decision, emit)
        await uow.commit()
    log.info("task %s %sd by an officer", task_id, decision.kind)


@dataclass(frozen=True)
class Decided:
    """A task a bulk request decided: its new status, when."""

    status: str
    at: datetime


async def decide_many(
    authority: RegistryAuthority,
    decisions: Sequence[tuple[str, Decision]],
    visible: Callable[[str], bool],
) -> list[DomainError | Decided]:
    """An officer's decisions on several tasks in one unit of work: for each, in order, the
    decided task row or the refusal it would have had alone (404, 409, 422). A refused task
    leaves nothing behind (every refusal comes before the task's writes), the others commit
    together, and the audit trail gets one entry per task (:func:`record_item`)."""
    results: list[DomainError | Decided] = []
    async with authority.runtime.unit_of_work() as uow:
        tasks = authority.tasks(uow.session)
        rows = await tasks.get_many([task_id for task_id, _ in decisions])
        for task_id, decision in decisions:
            task = rows.get(task_id)
            unit = authority.unit(task.authority_unit) if task is not None else None
            try:
                if task is None or unit is None or not visible(task.authority_unit):
                    unit = None  # a task out of reach names no unit in the audit either
                    raise NotFound(f"task {task_id} not found", rule="task_not_found")
                school = _school(authority, task.school_code)
                at = authority.now()
                emit = task_emit(uow, task, unit)
                plan = await settle(authority, tasks, task, school, decision, emit, at=at)
            except DomainError as refused:
                results.append(refused)
                outcome = outcome_of(refused)
            else:
                results.append(Decided(str(plan.status), at))
                outcome = "ok"
            record_item(
                task_id,
                unit_kind=unit.tier if unit else None,
                unit_code=unit.code if unit else None,
                purpose=decision.reason,
                outcome=outcome,
            )
        await uow.commit()
    log.info("%d tasks decided by an officer in one request", len(decisions))
    return results


async def settle(
    authority: RegistryAuthority,
    tasks: TaskRepository,
    task: Any,
    school: School,
    decision: Decision,
    emit: Emit,
    *,
    at: datetime | None = None,
) -> Plan:
    """Apply ``decision`` to an open task and emit what it causes, in the caller's transaction."""
    items = await tasks.items(task.task_id) if task.kind == TaskKind.REGISTRATION_BATCH else []
    plan = _plan(task, [row.registration_id for row in items], decision)
    if not await tasks.close(
        task.task_id,
        plan.status,
        at=at or authority.now(),
        by=decision.decided_by,
        reason=decision.reason,
        rule=decision.rule,
    ):
        raise Conflict("the task was decided meanwhile", rule="task_already_decided")
    await tasks.settle_items(task.task_id, plan)
    authority_unit = authority.unit(task.authority_unit)
    if task.kind == TaskKind.REGISTRATION_BATCH:
        await announce_batch(emit, authority_unit, school, task, items, plan)
    elif task.kind in TRANSFER_KINDS:
        await announce_transfer_step(emit, authority_unit, task, plan, decision)
    elif task.kind == TaskKind.STATUS_CHANGE:
        await announce_status_change(emit, authority_unit, school, task, plan, decision.reason)
    elif task.kind == TaskKind.GRADUATION_BATCH:
        await announce_graduation(emit, authority_unit, school, task, plan, decision.reason)
    elif task.kind == TaskKind.VERIFICATION_FINDINGS:
        pass  # the officer's record of having dealt with the findings; nobody else waits
    elif task.kind == TaskKind.DUPLICATE_RESOLUTION:
        await announce_duplicate_decision(emit, authority_unit, task, plan, decision)
    else:
        await announce_key_field_change(emit, authority_unit, school, task, plan, decision.reason)
    return plan


def _plan(task: Any, item_ids: Sequence[str], decision: Decision) -> Plan:
    try:
        return plan_decision(TaskKind(task.kind), TaskStatus(task.status), item_ids, decision)
    except AlreadyDecided as refused:
        raise Conflict(refused.detail, rule=refused.rule) from None
    except DecisionRefused as refused:
        raise DomainError(refused.detail, rule=refused.rule) from None


def _school(authority: RegistryAuthority, code: str) -> School:
    school = authority.school(code)
    if school is None:
        raise DomainError(f"school {code} is no longer in the federation", rule="unknown_school")
    return school


async def announce_batch(
    emit: Emit, authority: UnitRef, school: School, task: Any, items: Sequence[Any], plan: Plan
) -> None:
    """Approved items to national; rejected ones back to the school and its province."""
    batch_id = uuid.UUID(task.subject_id)
    approved = set(plan.approved)
    if approved:
        await emit(
            RegistrationBatchApproved(
                batch_id=batch_id,
                school_code=school.code,
                authority=str(authority),
                items=tuple(_registration(row) for row in items if row.registration_id in approved),
            ),
            NATIONAL,
        )
    if plan.rejected:
        decided = RegistrationBatchDecided(
            batch_id=batch_id,
            school_code=school.code,
            decided_by=str(authority),
            outcomes=_rejections(plan.rejected),
        )
        await _tell_school_and_province(emit, school, decided)


def _registration(row: Any) -> RegistrationItem:
    return RegistrationItem(
        registration_id=uuid.UUID(row.registration_id), basic=BasicInfo.model_validate(row.basic)
    )


def _rejections(rejected: Mapping[str, str]) -> tuple[RegistrationOutcome, ...]:
    return tuple(
        RegistrationOutcome(
            registration_id=uuid.UUID(registration_id),
            outcome="rejected",
            reason=reason,
            rule=REJECTED_RULE,
        )
        for registration_id, reason in rejected.items()
    )


async def announce_key_field_change(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, reason: str | None
) -> None:
    """Approved → national re-checks and applies; rejected → the school and its province."""
    change_id = uuid.UUID(task.subject_id)
    student_number = task.details["student_number"]
    changes = KeyFieldChanges.model_validate(task.details["changes"])
    if plan.status is TaskStatus.APPROVED:
        approved = KeyFieldChangeApproved(
            change_id=change_id,
            school_code=school.code,
            student_number=student_number,
            changes=changes,
            authority=str(authority),
        )
        await emit(approved, NATIONAL)
        return
    decided = KeyFieldChangeDecided(
        change_id=change_id,
        school_code=school.code,
        student_number=student_number,
        outcome="rejected",
        changes=changes,
        reason=reason,
        rule=REJECTED_RULE,
        decided_by=str(authority),
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_status_change(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, reason: str | None
) -> None:
    """Approved → national checks the registry and applies it; rejected → the school and its
    province (the officer's reason, rule ``authority_rejected``)."""
    details = task.details
    facts = StatusChangeFacts.model_validate(details["facts"])
    proofs = tuple(ProofRef(index=p["index"], kind=p["kind"]) for p in details["proofs"])
    common = {
        "change_id": uuid.UUID(task.subject_id),
        "school_code": school.code,
        "student_number": details["student_number"],
        "facts": facts,
        "proofs": proofs,
    }
    if plan.status is TaskStatus.APPROVED:
        await emit(StatusChangeApproved(**common, authority=str(authority)), NATIONAL)
        return
    decided = StatusChangeDecided(
        **common,
        outcome="rejected",
        decided_by=str(authority),
        reason=reason,
        rule=REJECTED_RULE,
        from_grade=details["grade"],
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_transfer_step(
    emit: Emit, authority: UnitRef, task: Any, plan: Plan, decision: Decision
) -> None:
    """The step's decision to national, which runs the transfer."""
    decided = TransferStepDecided(
        transfer_id=uuid.UUID(task.transfer_id),
        step_id=uuid.UUID(task.subject_id),
        decision="approve" if plan.status is TaskStatus.APPROVED else "reject",
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(authority),
        intervention=task.kind == TaskKind.TRANSFER_INTERVENTION,
        rule=decision.rule,
    )
    await emit(decided, NATIONAL)


async def announce_graduation(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, reason: str | None
) -> None:
    """Approved → national applies the list; rejected → the school and its province."""
    details = task.details
    items = tuple(GraduationItem.model_validate(i) for i in details["items"])
    batch_id = uuid.UUID(task.subject_id)
    if plan.status is TaskStatus.APPROVED:
        approved = GraduationBatchApproved(
            batch_id=batch_id,
            school_code=school.code,
            graduation_year=details["graduation_year"],
            authority=str(authority),
            items=items,
            late=bool(details.get("late_reason")),
        )
        await emit(approved, NATIONAL)
        return
    decided = GraduationBatchDecided(
        batch_id=batch_id,
        school_code=school.code,
        graduation_year=details["graduation_year"],
        outcome="rejected",
        decided_by=str(authority),
        reason=reason,
        rule=REJECTED_RULE,
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_duplicate_decision(
    emit: Emit, authority: UnitRef, task: Any, plan: Plan, decision: Decision
) -> None:
    """The authority's approval of a duplicate resolution (LS 2(三)) to national."""
    decided = DuplicateApprovalDecided(
        resolution_id=uuid.UUID(task.subject_id),
        decision="approve" if plan.status is TaskStatus.APPROVED else "reject",
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(authority),
    )
    await emit(decided, NATIONAL)


async def _tell_school_and_province(emit: Emit, school: School, payload: Contract) -> None:
    await emit(payload, school_unit(school))
    await emit(payload, province_unit(school))
