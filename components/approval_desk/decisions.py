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
  the officer (or ``system``) and the deciding unit (the sending school, a county, a
  province), ``intervention`` for a superior deciding on a late party's behalf (HA art.
  11(三));
- a kind's policy may act on the decision where the desk is (:meth:`KindPolicy.decided`).

The task update and the messages commit together: the caller's unit of work, committed by the
request that decided, or the consumer's transaction for automatic decisions. Nothing here
commits. The officer's name stays in the task; messages name the deciding unit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.approval_desk.desk import ApprovalDesk, province_unit, school_unit
from components.approval_desk.domain import (
    ITEM_KINDS,
    REJECTED_RULE,
    SUBMISSION_KINDS,
    SYSTEM,
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
from shared.audit.recording import annotate, outcome_of, record_item
from shared.contracts.decider import Decider
from shared.contracts.duplicates import DuplicateApprovalDecided
from shared.contracts.graduation import (
    GraduationBatchApproved,
    GraduationBatchDecided,
    GraduationItem,
)
from shared.contracts.progression import LeftOut, ProgressionStepDecided
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
from shared.messaging.emit import Emit
from shared.messaging.envelope import Contract
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)

# Which deciding units the caller may see (the hosted ones the principal reaches).
Visible = Callable[[UnitRef], bool]


def _emitter(uow: UnitOfWork, task: Any) -> Emit:
    """The request's emitter for the task's unit, continuing the flow of the message that
    opened ``task`` (its correlation, causation and trace)."""
    return uow.emitter(
        task.unit,
        correlation_id=task.correlation_id,
        causation_id=task.message_id,
        trace_context=task.details.get(TRACE_KEY),
    )


async def decide(
    desk: ApprovalDesk,
    uow: UnitOfWork,
    task_id: uuid.UUID,
    decision: Decision,
    visible: Visible | None = None,
) -> None:
    """An officer's decision on a task of a hosted unit (that ``visible`` lets through: the
    officer's own unit), in the caller's unit of work (the caller commits): 404, 409 or 422
    when it cannot be."""
    tasks = desk.tasks(uow.session)
    task = await tasks.get(task_id)
    if task is None or not (visible or desk.keeps)(task.unit):
        raise NotFound(f"task {task_id} not found", rule="task_not_found")
    annotate(unit_kind=task.unit.tier, unit_code=task.unit.code, purpose=decision.reason)
    await settle(desk, tasks, task, decision, _emitter(uow, task))
    log.info("task %s %sd by an officer", task_id, decision.kind)


@dataclass(frozen=True)
class Decided:
    """A task a bulk request decided: its new status, when."""

    status: str
    at: datetime


async def decide_many(
    desk: ApprovalDesk,
    uow: UnitOfWork,
    decisions: Sequence[tuple[uuid.UUID, Decision]],
    visible: Visible,
) -> list[DomainError | Decided]:
    """An officer's decisions on several tasks in the caller's unit of work: for each, in
    order, the decided task or the refusal it would have had alone (404, 409, 422). A refused
    task leaves nothing behind (every refusal comes before the task's writes), the others
    commit together when the caller commits, and the audit trail gets one entry per task
    (:func:`record_item`)."""
    results: list[DomainError | Decided] = []
    tasks = desk.tasks(uow.session)
    rows = await tasks.get_many([task_id for task_id, _ in decisions])
    for task_id, decision in decisions:
        task = rows.get(task_id)
        unit = task.unit if task is not None and visible(task.unit) else None
        try:
            if task is None or unit is None:
                raise NotFound(f"task {task_id} not found", rule="task_not_found")
            at = desk.now()
            plan = await settle(desk, tasks, task, decision, _emitter(uow, task), at=at)
        except DomainError as refused:
            results.append(refused)
            outcome = outcome_of(refused)
        else:
            results.append(Decided(str(plan.status), at))
            outcome = "ok"
        record_item(
            str(task_id),
            unit_kind=unit.tier if unit else None,  # a task out of reach names no unit
            unit_code=unit.code if unit else None,
            purpose=decision.reason,
            outcome=outcome,
        )
    log.info("%d tasks decided by an officer in one request", len(decisions))
    return results


async def settle(
    desk: ApprovalDesk,
    tasks: TaskRepository,
    task: Any,
    decision: Decision,
    emit: Emit,
    *,
    at: datetime | None = None,
) -> Plan:
    """Apply ``decision`` to an open task and emit what it causes, in the caller's transaction."""
    items = await tasks.items(task.task_id) if task.kind in ITEM_KINDS else []
    plan = _plan(task, [row.registration_id for row in items], decision)
    await desk.policy(task.kind).admit(tasks.session, task, decision)
    at = at or desk.now()
    if not await tasks.close(
        task.task_id,
        plan.status,
        at=at,
        by=decision.decided_by,
        reason=decision.reason,
        rule=decision.rule,
    ):
        raise Conflict("the task was decided meanwhile", rule="task_already_decided")
    await tasks.settle_items(task.task_id, plan)
    await desk.policy(task.kind).decided(tasks.session, task, plan, decision, at)
    await announce(desk, emit, task, items, plan, decision)
    return plan


async def announce(
    desk: ApprovalDesk,
    emit: Emit,
    task: Any,
    items: Sequence[Any],
    plan: Plan,
    decision: Decision,
) -> None:
    """Tell the other tiers what the decision causes, by kind."""
    unit: UnitRef = task.unit
    if task.kind in TRANSFER_KINDS:
        await announce_transfer_step(emit, unit, task, plan, decision)
    elif task.kind == TaskKind.PROGRESSION_STEP:
        await announce_progression_step(emit, unit, task, plan, decision)
    elif task.kind == TaskKind.DUPLICATE_RESOLUTION:
        await announce_duplicate_decision(emit, unit, task, plan, decision)
    elif task.kind in SUBMISSION_KINDS:
        school = _school(desk, task.school_code)
        if task.kind == TaskKind.REGISTRATION_BATCH:
            await announce_batch(emit, unit, school, task, items, plan, decision)
        elif task.kind == TaskKind.STATUS_CHANGE:
            await announce_status_change(emit, unit, school, task, plan, decision)
        elif task.kind == TaskKind.GRADUATION_BATCH:
            await announce_graduation(emit, unit, school, task, plan, decision)
        else:
            await announce_key_field_change(emit, unit, school, task, plan, decision)
    # verification findings, statistics alerts: the officer's record of having dealt with
    # them (an alert's acknowledgement and note); nobody waits
    # export approvals: the kind's policy produced (or refused) the file where the data is


def decider_of(unit: UnitRef, decision: Decision) -> Decider:
    """The officer behind ``decision`` and their unit; for the system, the rule it applied."""
    rule = decision.rule if decision.decided_by == SYSTEM else None
    return Decider(account=decision.decided_by, unit=str(unit), rule=rule)


def _plan(task: Any, item_ids: Sequence[uuid.UUID], decision: Decision) -> Plan:
    try:
        return plan_decision(TaskKind(task.kind), TaskStatus(task.status), item_ids, decision)
    except AlreadyDecided as refused:
        raise Conflict(refused.detail, rule=refused.rule) from None
    except DecisionRefused as refused:
        raise DomainError(refused.detail, rule=refused.rule) from None


def _school(desk: ApprovalDesk, code: str) -> School:
    school = desk.school(code)
    if school is None:
        raise DomainError(f"school {code} is no longer in the federation", rule="unknown_school")
    return school


async def announce_batch(
    emit: Emit,
    authority: UnitRef,
    school: School,
    task: Any,
    items: Sequence[Any],
    plan: Plan,
    decision: Decision,
) -> None:
    """Approved items to national; rejected ones back to the school and its province."""
    batch_id = task.subject_id
    approved = set(plan.approved)
    if approved:
        await emit(
            RegistrationBatchApproved(
                batch_id=batch_id,
                school_code=school.code,
                authority=str(authority),
                approver=decider_of(authority, decision),
                items=tuple(_registration(row) for row in items if row.registration_id in approved),
            ),
            target=NATIONAL,
        )
    if plan.rejected:
        decided = RegistrationBatchDecided(
            batch_id=batch_id,
            school_code=school.code,
            decided_by=str(authority),
            decider=decider_of(authority, decision),
            outcomes=_rejections(plan.rejected),
        )
        await _tell_school_and_province(emit, school, decided)


def _registration(row: Any) -> RegistrationItem:
    return RegistrationItem(
        registration_id=row.registration_id, basic=BasicInfo.model_validate(row.basic)
    )


def _rejections(rejected: Mapping[uuid.UUID, str]) -> tuple[RegistrationOutcome, ...]:
    return tuple(
        RegistrationOutcome(
            registration_id=registration_id,
            outcome="rejected",
            reason=reason,
            rule=REJECTED_RULE,
        )
        for registration_id, reason in rejected.items()
    )


async def announce_key_field_change(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, decision: Decision
) -> None:
    """Approved → national re-checks and applies; rejected → the school and its province."""
    change_id = task.subject_id
    student_number = task.details["student_number"]
    changes = KeyFieldChanges.model_validate(task.details["changes"])
    proofs = tuple(
        ProofRef(index=p["index"], kind=p["kind"]) for p in task.details.get("proofs", ())
    )
    hukou_region = task.details.get("hukou_region")
    if plan.status is TaskStatus.APPROVED and hukou_region:
        # a hukou place change (non-basic): decided here, applied at the province; national
        # never sees it (decision 0043)
        applied = KeyFieldChangeDecided(
            change_id=change_id,
            school_code=school.code,
            student_number=student_number,
            outcome="applied",
            changes=changes,
            hukou_region=hukou_region,
            decided_by=str(authority),
            decider=decider_of(authority, decision),
            proofs=proofs,
        )
        await _tell_school_and_province(emit, school, applied)
        return
    if plan.status is TaskStatus.APPROVED:
        approved = KeyFieldChangeApproved(
            change_id=change_id,
            school_code=school.code,
            student_number=student_number,
            changes=changes,
            authority=str(authority),
            approver=decider_of(authority, decision),
            proofs=proofs,
        )
        await emit(approved, target=NATIONAL)
        return
    decided = KeyFieldChangeDecided(
        change_id=change_id,
        school_code=school.code,
        student_number=student_number,
        outcome="rejected",
        changes=changes,
        reason=decision.reason,
        rule=REJECTED_RULE,
        decided_by=str(authority),
        decider=decider_of(authority, decision),
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_status_change(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, decision: Decision
) -> None:
    """Approved → national checks the registry and applies it; rejected → the school and its
    province (the officer's reason, rule ``authority_rejected``)."""
    details = task.details
    facts = StatusChangeFacts.model_validate(details["facts"])
    proofs = tuple(ProofRef(index=p["index"], kind=p["kind"]) for p in details["proofs"])
    common = {
        "change_id": task.subject_id,
        "school_code": school.code,
        "student_number": details["student_number"],
        "facts": facts,
        "proofs": proofs,
    }
    if plan.status is TaskStatus.APPROVED:
        approved = StatusChangeApproved(
            **common, authority=str(authority), approver=decider_of(authority, decision)
        )
        await emit(approved, target=NATIONAL)
        return
    decided = StatusChangeDecided(
        **common,
        outcome="rejected",
        decided_by=str(authority),
        decider=decider_of(authority, decision),
        reason=decision.reason,
        rule=REJECTED_RULE,
        from_grade=details["grade"],
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_transfer_step(
    emit: Emit, unit: UnitRef, task: Any, plan: Plan, decision: Decision
) -> None:
    """The step's decision to national, which runs the transfer."""
    decided = TransferStepDecided(
        transfer_id=task.transfer_id,
        step_id=task.subject_id,
        decision="approve" if plan.status is TaskStatus.APPROVED else "reject",
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(unit),
        intervention=task.kind == TaskKind.TRANSFER_INTERVENTION,
        rule=decision.rule,
    )
    await emit(decided, target=NATIONAL)


async def announce_progression_step(
    emit: Emit, unit: UnitRef, task: Any, plan: Plan, decision: Decision
) -> None:
    """The step's decision to national, which runs the progression: approve (the students
    whose items the officer rejected left out, each with its reason) or reject."""
    numbers = {uuid.UUID(s["item_id"]): s["student_number"] for s in task.details["students"]}
    approved = plan.status is TaskStatus.APPROVED
    decided = ProgressionStepDecided(
        progression_id=task.transfer_id,
        step_id=task.subject_id,
        decision="approve" if approved else "reject",
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(unit),
        intervention=task.details.get("late_party") is not None,
        left_out=tuple(
            LeftOut(student_number=numbers[item_id], reason=reason)
            for item_id, reason in plan.rejected.items()
        )
        if approved
        else (),
    )
    await emit(decided, target=NATIONAL)


async def announce_graduation(
    emit: Emit, authority: UnitRef, school: School, task: Any, plan: Plan, decision: Decision
) -> None:
    """Approved → national applies the list; rejected → the school and its province."""
    details = task.details
    items = tuple(GraduationItem.model_validate(i) for i in details["items"])
    batch_id = task.subject_id
    if plan.status is TaskStatus.APPROVED:
        approved = GraduationBatchApproved(
            batch_id=batch_id,
            school_code=school.code,
            graduation_year=details["graduation_year"],
            authority=str(authority),
            approver=decider_of(authority, decision),
            items=items,
            late=bool(details.get("late_reason")),
        )
        await emit(approved, target=NATIONAL)
        return
    decided = GraduationBatchDecided(
        batch_id=batch_id,
        school_code=school.code,
        graduation_year=details["graduation_year"],
        outcome="rejected",
        decided_by=str(authority),
        decider=decider_of(authority, decision),
        reason=decision.reason,
        rule=REJECTED_RULE,
    )
    await _tell_school_and_province(emit, school, decided)


async def announce_duplicate_decision(
    emit: Emit, unit: UnitRef, task: Any, plan: Plan, decision: Decision
) -> None:
    """The authority's approval of a duplicate resolution (LS 2(三)) to national."""
    decided = DuplicateApprovalDecided(
        resolution_id=task.subject_id,
        decision="approve" if plan.status is TaskStatus.APPROVED else "reject",
        reason=decision.reason,
        decided_by=decision.decided_by,
        decided_unit=str(unit),
    )
    await emit(decided, target=NATIONAL)


async def _tell_school_and_province(emit: Emit, school: School, payload: Contract) -> None:
    await emit(payload, target=school_unit(school))
    await emit(payload, target=province_unit(school))
