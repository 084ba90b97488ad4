"""Transfers (转学) as a deciding party takes part in them — N2013 art. 14, HA art. 11,
LS 2(一), ZJ art. 13.

National runs the saga (``shared.contracts.transfer``); the desk only answers its steps:

- ``transfer.step_opened`` for this unit's own step (the school ``sending_school``, 转出学校
  核办; a county ``sending_authority`` / ``receiving_authority``; a province also
  ``sending_province`` / ``receiving_province``) → a ``transfer_step`` task: the student's
  basic summary, both schools, the family's reason, the proofs with their links at the
  receiving school (they are never copied here) and the due date (10 working days). The
  tier's policy for the kind adds its facts (the sending school: the student's status on its
  roster) and may decide it at once (the province's discipline check); otherwise an officer
  decides it. A delivery batch's consecutive steps are applied together, set-based
  (:func:`receive_steps`), with the outcomes of one step at a time.
- ``transfer.step_reminder`` → the open task notes the reminder.
- ``transfer.step_overdue``, sent to the superior of a late party (a county for its school, a
  province for its county) → a ``transfer_intervention`` task showing the late party, its
  due date, the family's reason and the proofs' links; deciding it answers the step on the
  party's behalf (强制干预, HA art. 11(三)).
- ``transfer.closed`` → the transfer's open tasks here become ``void``; so does
  ``transfer.step_settled`` (a superior decided the step in this unit's place) for that step.

Deciding either kind sends ``transfer.step_decided`` to national
(:func:`components.approval_desk.decisions.announce_transfer_step`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from components.approval_desk.decisions import settle
from components.approval_desk.desk import ApprovalDesk, province_unit, school_unit
from components.approval_desk.domain import SYSTEM, TaskKind
from components.approval_desk.intake import task_row
from shared.contracts.transfer import (
    PartyRole,
    TransferClosed,
    TransferStepOpened,
    TransferStepOverdue,
    TransferStepReminder,
    TransferStepSettled,
)
from shared.federation.config import Federation, School, Tier, UnitRef
from shared.federation.links import proof_links
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


def is_sending(role: PartyRole) -> bool:
    return role.startswith("sending_")


def party_of(role: PartyRole, from_school: School, to_school: School) -> UnitRef:
    """The unit that decides a step of ``role`` in a transfer between these schools."""
    school = from_school if is_sending(role) else to_school
    if role.endswith("_school"):
        return school_unit(school)
    if role.endswith("_authority"):
        return school.authority_unit
    return province_unit(school)


def superior_of(federation: Federation, party: UnitRef) -> UnitRef | None:
    """Who may intervene for a late party: a school's authority, a county's or a city's
    province (a county's late step escalates to the province, not to its city).

    A province's superior is national, which intervenes itself (None here).
    """
    if party.tier == Tier.SCHOOL:
        school = federation.school(party.code)
        return school.authority_unit if school else None
    if party.tier == Tier.COUNTY:
        county = federation.county(party.code)
        return UnitRef(tier=Tier.PROVINCE, code=county.province) if county else None
    if party.tier == Tier.CITY:  # a city-run school's authority (decision 0034)
        city = federation.city(party.code)
        return UnitRef(tier=Tier.PROVINCE, code=city.province) if city else None
    return None


# ----------------------------------------------------------------------- own steps


async def receive_steps(
    desk: ApprovalDesk, contexts: Sequence[HandlerContext], steps: Sequence[TransferStepOpened]
) -> None:
    """Open a task for each step of a run (one delivery batch, one transaction; its units are
    any this instance hosts), with the facts the tier's policy adds, and let that policy decide
    it at once if it does — as if each step were applied alone, in delivery order.

    A fixed number of statements whatever the run's length: the run's existing tasks in one
    read (a redelivered step, or one the run holds twice, opens none), the policy's facts for
    the run at once (:meth:`KindPolicy.facts_many`), the new tasks in one ``executemany``, and
    each unit's list version bumped once at commit. Only a step the policy decides at once
    costs its own statements (the decision's). A step that is not the addressed unit's fails
    the run: the consumer then applies each message alone, which dead-letters that one.
    """
    schools = [_party_school(desk, ctx, step) for ctx, step in zip(contexts, steps, strict=True)]
    tasks = desk.tasks(contexts[0].session)
    kind = TaskKind.TRANSFER_STEP
    existing = await tasks.find_subjects(
        kind, [(ctx.unit, step.step_id) for ctx, step in zip(contexts, steps, strict=True)]
    )
    new: list[int] = []  # the positions of the steps that open a task
    for position, (ctx, step) in enumerate(zip(contexts, steps, strict=True)):
        if (ctx.unit, step.step_id) not in existing:
            existing.add((ctx.unit, step.step_id))  # the run's second copy finds this one
            new.append(position)
    policy = desk.policy(kind)
    facts = await policy.facts_many([contexts[n] for n in new], [steps[n] for n in new])
    federation = desk.runtime.federation
    opened: dict[int, dict[str, Any]] = {}  # by position in the run
    for position, added in zip(new, facts, strict=True):
        ctx, step = contexts[position], steps[position]
        details = {**_step_details(federation, step), **added}
        row = task_row(desk, ctx, kind, schools[position], step.step_id, 0, 0, details)
        row.update(
            transfer_id=step.transfer_id, due_on=step.due_on, due_approximate=step.due_approximate
        )
        opened[position] = row
    await tasks.add_many(list(opened.values()))
    for position, (ctx, step) in enumerate(zip(contexts, steps, strict=True)):  # in order
        if position not in opened:
            log.info("step %s already has a task at %s; ignored", step.step_id, ctx.unit)
            continue
        log.info("transfer %s: %s task opened at %s", step.transfer_id, step.role, ctx.unit)
        decision = await policy.decide_at_once(ctx, step)
        if decision is not None:
            task = await tasks.get(opened[position]["task_id"])
            await settle(desk, tasks, task, decision, ctx.emit)


def _party_school(desk: ApprovalDesk, ctx: HandlerContext, step: TransferStepOpened) -> School:
    """The school a step of the addressed unit concerns; refused if the step is not its."""
    from_school, to_school = _schools(desk, step.from_school, step.to_school)
    if party_of(step.role, from_school, to_school) != ctx.unit:
        raise PermanentMessageError(
            f"step {step.step_id} ({step.role}) of transfer {step.transfer_id} is not {ctx.unit}'s"
        )
    return from_school if is_sending(step.role) else to_school


def _step_details(federation: Federation, step: TransferStepOpened) -> dict[str, Any]:
    return {
        **_transfer_facts(step),
        "reason": step.reason,
        "opened_on": step.opened_on.isoformat(),
        "proofs": proof_links(federation, step),
        "late_party": None,
        # approving this step grants it (decision 0035)
        "window_exception": (
            step.window_exception.model_dump() if step.window_exception is not None else None
        ),
    }


def _transfer_facts(step: TransferStepOpened | TransferStepOverdue) -> dict[str, Any]:
    return {
        "transfer_id": str(step.transfer_id),
        "step_id": str(step.step_id),
        "role": step.role,
        "student_number": step.student_number,
        "student": step.student.model_dump(mode="json"),
        "from_school": step.from_school,
        "to_school": step.to_school,
    }


async def note_reminder(
    desk: ApprovalDesk, ctx: HandlerContext, reminder: TransferStepReminder
) -> None:
    """National reminded this unit of a step coming due: the task shows when."""
    tasks = desk.tasks(ctx.session)
    if not await tasks.mark_reminded(ctx.unit, reminder.step_id, desk.now()):
        log.info("reminder for step %s at %s: no open task; ignored", reminder.step_id, ctx.unit)


# ------------------------------------------------------------------- interventions


async def receive_overdue(
    desk: ApprovalDesk, ctx: HandlerContext, overdue: TransferStepOverdue
) -> None:
    """A party this unit supervises let its step pass due: open an intervention task."""
    party = _unit(overdue.party)
    if superior_of(desk.runtime.federation, party) != ctx.unit:
        raise PermanentMessageError(f"{ctx.unit} is not the superior of {party}")
    from_school, to_school = _schools(desk, overdue.from_school, overdue.to_school)
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.TRANSFER_INTERVENTION, overdue.step_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("step %s already has an intervention at %s; ignored", subject, ctx.unit)
        return
    school = from_school if is_sending(overdue.role) else to_school
    details = {
        **_transfer_facts(overdue),
        "reason": overdue.reason,
        "opened_on": None,
        "proofs": proof_links(desk.runtime.federation, overdue),
        "late_party": str(party),
    }
    row = task_row(desk, ctx, kind, school, subject, 0, 0, details)
    row.update(transfer_id=overdue.transfer_id, due_on=overdue.due_on)
    await tasks.add(row)
    log.info(
        "transfer %s: %s is late; intervention task at %s", overdue.transfer_id, party, ctx.unit
    )


def _unit(reference: str) -> UnitRef:
    try:
        return UnitRef.parse(reference)
    except ValueError:
        raise PermanentMessageError(f"{reference!r} is not a unit reference") from None


# ------------------------------------------------------------------------ closing


async def void_closed(desk: ApprovalDesk, ctx: HandlerContext, closed: TransferClosed) -> None:
    """The transfer ended elsewhere: this unit's open tasks of it are void."""
    reason = f"transfer {closed.outcome}: {closed.reason}"
    await void_transfer(desk, ctx, closed.transfer_id, reason)


async def void_transfer(
    desk: ApprovalDesk, ctx: HandlerContext, transfer_id: uuid.UUID, reason: str
) -> int:
    """This unit's open tasks of a transfer are void (it ended, or completed without them)."""
    count = await desk.tasks(ctx.session).void_transfer(
        ctx.unit, transfer_id, at=desk.now(), by=SYSTEM, reason=reason[:500]
    )
    log.info("transfer %s: %d task(s) void at %s (%s)", transfer_id, count, ctx.unit, reason)
    return count


async def void_transfers(
    desk: ApprovalDesk, voids: Sequence[tuple[HandlerContext, uuid.UUID]], reason: str
) -> list[int]:
    """:func:`void_transfer` for a run of messages sharing one transaction (a set-based
    handler's): each context's unit's open tasks of its transfer are void, in one statement
    whatever the run's length; how many were, per pair, in order."""
    if not voids:
        return []
    pairs = [(ctx.unit, transfer_id) for ctx, transfer_id in voids]
    voided = await desk.tasks(voids[0][0].session).void_transfers(
        pairs, at=desk.now(), by=SYSTEM, reason=reason[:500]
    )
    counts = []
    for unit, transfer_id in pairs:
        count = voided.pop((unit, transfer_id), 0)  # a pair the run holds twice: once
        log.info("transfer %s: %d task(s) void at %s (%s)", transfer_id, count, unit, reason)
        counts.append(count)
    return counts


async def void_settled(
    desk: ApprovalDesk, ctx: HandlerContext, settled: TransferStepSettled
) -> None:
    """Someone else decided the step this unit held a task for: that task is void."""
    how = "by intervention of" if settled.intervention else "by"
    count = await desk.tasks(ctx.session).void_step(
        ctx.unit,
        settled.step_id,
        at=desk.now(),
        by=SYSTEM,
        reason=f"step decided ({settled.decision}) {how} {settled.decided_unit}",
    )
    log.info("step %s settled: %d task(s) void at %s", settled.step_id, count, ctx.unit)


def _schools(desk: ApprovalDesk, from_code: str, to_code: str) -> tuple[School, School]:
    schools = [desk.school(code) for code in (from_code, to_code)]
    for code, school in zip((from_code, to_code), schools, strict=True):
        if school is None:
            raise PermanentMessageError(f"school {code} is not in the federation")
    from_school, to_school = schools
    assert from_school is not None and to_school is not None
    return from_school, to_school
