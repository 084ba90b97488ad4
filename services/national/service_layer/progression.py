"""Use cases: a cohort's progression (升学) as one batch — N2013 art. 14, LS 1(二), LS 3(二).

- :func:`request_progression` (``progression.requested``): resolve the cohort set-based (by
  year through ``ix_registry_entry_leavers``, or by student / ID numbers), judge each student
  (:func:`services.national.domain.progression.verdict`), hold the ones who may progress with
  the transfer's claim, and open the first step with the whole cohort in one message. The
  receiving school hears every refusal with its rule and article (``progression.updated``).
- :func:`decide_step` (``progression.step_decided``): the transfer's machine decides the step
  (the party, or its superior once it is overdue); students a party left out are released;
  the last approval moves every held entry ``graduated → enrolled`` at the receiving school in
  its first grade (one UPDATE) and tells both schools and both provinces
  (``progression.completed``); a rejection releases everyone (``progression.closed``).

The parties are the transfer's (``Rulebook.plan``) unless the receiving province's rules name
others (``[progression] parties``). Nothing here commits: the consumer does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.progression_repository import (
    PENDING,
    Found,
    Loaded,
    ProgressionRepository,
)
from services.national.domain import progression as rules
from services.national.domain import yi_track
from services.national.domain.transfer import Decision, NoSay, Step, StepState, Transfer
from services.national.domain.transfer_rules import plan_steps
from services.national.service_layer.change_log import PROGRESSED, entries_in, log_changes
from services.national.service_layer.transfers.notices import basic_of, summary_of
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.contracts.decider import Decider
from shared.contracts.progression import (
    CohortStudent,
    ItemOutcomeUpdate,
    ProgressedStudent,
    ProgressionClosed,
    ProgressionCompleted,
    ProgressionRequested,
    ProgressionStepDecided,
    ProgressionStepOpened,
    ProgressionStepOverdue,
    ProgressionStepSettled,
    ProgressionUpdated,
)
from shared.db.keys import time_ordered_uuid
from shared.federation.config import NATIONAL, School, Tier, UnitRef
from shared.messaging.emit import Emit, HeldMessages

log = logging.getLogger(__name__)


class UnknownProgression(Exception):
    """No progression (or no step of it) with this id."""


@dataclass(frozen=True)
class Moment:
    today: date
    now: datetime


# ------------------------------------------------------------------------------ request


async def request_progression(
    repo: ProgressionRepository,
    emit: Emit,
    rulebook: Rulebook,
    request: ProgressionRequested,
    at: Moment,
    correlation_id: uuid.UUID,
) -> None:
    """Judge the cohort, hold who may progress, open the first step (or end at once)."""
    progression_id = str(request.progression_id)
    if await repo.exists(progression_id):
        log.info("progression %s requested again: already answered", progression_id)
        return
    from_school, to_school = (
        rulebook.school(request.from_school),
        rulebook.school(request.to_school),
    )
    named, found = await _resolve(repo, request)
    cohort = _cohort(rulebook, request, from_school, to_school)
    verdicts = {n: rules.verdict(n, _graduate(found.get(n)), cohort) for n in named}
    wanted = [found[n].entry.entry_id for n, refusal in verdicts.items() if refusal is None]
    held = await repo.claim(progression_id, wanted) if wanted else set()
    items = [_item_row(progression_id, n, found.get(n), verdicts[n], held) for n in named]
    saga = Transfer(progression_id, "", request.from_school, request.to_school)
    grade = rules.first_grade(to_school.stage) if to_school.stage in rules.FIRST_GRADE else 0
    record = _record(request, from_school, to_school, grade, correlation_id, at.now)
    if not held:
        reason = "nobody of the cohort may progress" if named else "the cohort is empty"
        saga.refuse(rules.RULE_EMPTY_COHORT, reason, at.now)
    else:
        saga.steps = _plan(rulebook, from_school, to_school)
        opened = saga.start(at.today, rulebook.deadline_of)
    await repo.add({**record, **_ending(saga)}, items, saga)
    await emit(_updated(saga, items), target=_school_unit(request.to_school))
    if held:
        entries = [
            found[n].entry for n in named if found.get(n) and found[n].entry.entry_id in held
        ]
        await emit(
            _step_opened(saga, opened, grade, entries), target=UnitRef.parse(opened.party_unit)
        )
    log.info(
        "progression %s: %d named, %d held, %s",
        progression_id,
        len(named),
        len(held),
        " → ".join(f"{s.role}({s.party_unit})" for s in saga.steps) or saga.closing_rule,
    )


async def _resolve(
    repo: ProgressionRepository, request: ProgressionRequested
) -> tuple[list[str], dict[str, Found]]:
    """Who the request names (in its order; a year: the school's leavers of that year)."""
    if request.graduation_year is not None:
        rows = await repo.cohort(request.from_school, request.graduation_year)
        return [r.student_number for r in rows], {r.student_number: Found(r) for r in rows}
    numbers = list(dict.fromkeys(request.student_numbers))
    id_numbers = [i for i in dict.fromkeys(request.id_numbers) if i not in numbers]
    found = {n: Found(r) for n, r in (await repo.by_numbers(numbers)).items()}
    found |= {n: Found(r) for n, r in (await repo.by_id_numbers(id_numbers)).items()}
    return numbers + id_numbers, found


def _graduate(found: Found | None) -> rules.Graduate | None:
    return found.graduate if found is not None else None


def _cohort(
    rulebook: Rulebook, request: ProgressionRequested, from_school: School, to_school: School
) -> rules.Cohort:
    accepted = rulebook.province_rules(from_school.province).progression.accept
    # LS 6: a Yi-track junior school takes outsiders only with the selection result, where
    # the receiving school's (scoped) rules say so; elsewhere the track is not checked.
    selective = (
        rulebook.province_rules(to_school.code).yi_track.progression_needs_selection
        and to_school.in_yi_track()
        and to_school.stage in yi_track.SELECTIVE_STAGES
    )
    return rules.Cohort(
        from_school=from_school.code,
        from_stage=from_school.stage,
        to_stage=to_school.stage,
        accepted=frozenset(accepted),
        to_track="yi" if selective else None,
        yi_track_selected=frozenset(request.yi_track_selected),
    )


def _plan(rulebook: Rulebook, from_school: School, to_school: School) -> list[Step]:
    """The transfer's parties, or the receiving province's ``[progression] parties``."""
    configured = rulebook.province_rules(to_school.province).progression.parties
    if configured is None:
        planned = rulebook.plan(rulebook.sides(from_school.code, to_school), from_school, to_school)
    else:

        def units(role: str) -> tuple[str, str]:
            party = rulebook.party_of(role, from_school, to_school)
            return str(party), str(rulebook.superior_of(party))

        planned = plan_steps(list(dict.fromkeys(configured)), units)
    return [
        Step(str(time_ordered_uuid()), seq, p.role, p.party_unit, p.superior_unit)
        for seq, p in enumerate(planned, start=1)
    ]


def _item_row(
    progression_id: str,
    named: str,
    found: Found | None,
    refusal: rules.Refusal | None,
    held: set[str],
) -> dict[str, Any]:
    entry = found.entry if found is not None else None
    if refusal is None and entry is not None and entry.entry_id not in held:
        refusal = rules.Refusal(rules.RULE_HELD, f"{named} was taken by another transfer meanwhile")
    return {
        "progression_id": progression_id,
        "named": named,
        "student_number": entry.student_number if entry is not None else None,
        "entry_id": entry.entry_id if entry is not None else None,
        "outcome": "refused" if refusal else PENDING,
        "rule": refusal.rule if refusal else None,
        "reason": refusal.reason[:500] if refusal else None,
        "article": refusal.article if refusal else None,
    }


def _record(
    request: ProgressionRequested,
    from_school: School,
    to_school: School,
    grade: int,
    correlation_id: uuid.UUID,
    now: datetime,
) -> dict[str, Any]:
    return {
        "progression_id": str(request.progression_id),
        "from_school": from_school.code,
        "to_school": to_school.code,
        "from_province": from_school.province,
        "to_province": to_school.province,
        "grade": grade,
        "graduation_year": request.graduation_year,
        "requested_on": request.requested_on,
        "correlation_id": str(correlation_id),
        "created_at": now,
    }


def _ending(saga: Transfer) -> dict[str, Any]:
    return {
        "state": saga.state.value,
        "closing_rule": saga.closing_rule,
        "closing_reason": saga.closing_reason,
        "closed_at": saga.ended_at,
        "archive_due_on": saga.archive_due_on,
    }


# ---------------------------------------------------------------------------- decisions


async def decide_step(
    repo: ProgressionRepository,
    emit: Emit,
    rulebook: Rulebook,
    decided: ProgressionStepDecided,
    at: Moment,
) -> None:
    """Apply a party's decision (raises :class:`NoSay` / ``NotEntitled`` for a unit that may
    not decide it; a decision on a step no longer open is ignored)."""
    loaded = await repo.load(str(decided.progression_id), lock=True)
    if loaded is None:
        raise UnknownProgression(f"no progression {decided.progression_id}")
    step = loaded.saga.step(decided.step_id)
    if step is None:
        raise UnknownProgression(
            f"progression {decided.progression_id} has no step {decided.step_id}"
        )
    if not step.concerns(decided.decided_unit):
        raise NoSay(f"{decided.decided_unit} is no party to step {step.step_id}")
    if step.state is not StepState.OPEN:
        log.info("progression step %s is %s: decision ignored", step.step_id, step.state)
        return
    decision = Decision(
        approve=decided.decision == "approve",
        decided_by=decided.decided_by,
        decided_unit=decided.decided_unit,
        decided_at=at.now,
        intervention=step.entitled(decided.decided_unit, at.today),
        reason=decided.reason,
        rule=None if decided.decision == "approve" else rules.RULE_REJECTED,
    )
    await _tell_the_other_holder(emit, loaded, step, decision)
    if decision.approve:
        await _approve(repo, emit, rulebook, loaded, step, decision, decided, at)
    else:
        await _reject(repo, emit, loaded, step, decision)


async def _approve(
    repo: ProgressionRepository,
    emit: Emit,
    rulebook: Rulebook,
    loaded: Loaded,
    step: Step,
    decision: Decision,
    decided: ProgressionStepDecided,
    at: Moment,
) -> None:
    pid, record = loaded.record.progression_id, loaded.record
    left_out = [lo.student_number for lo in decided.left_out]
    if left_out:
        items = {i.student_number: i for i in await repo.items(pid) if i.outcome == PENDING}
        known = [n for n in left_out if n in items]
        await _leave_out(
            repo, pid, step, {lo.student_number: lo.reason for lo in decided.left_out}, known, items
        )
    entries = await repo.held_entries(pid)
    if not entries:  # every student left out: nobody moves
        loaded.saga.reject(step, replace(decision, rule=rules.RULE_LEFT_OUT))
        await repo.save(loaded)
        await _tell_closed(emit, loaded, "every student was left out")
        await emit(
            _updated(loaded.saga, await repo.items(pid)), target=_school_unit(record.to_school)
        )
        return
    opened = loaded.saga.approve(step, decision, on=at.today, deadline_of=rulebook.deadline_of)
    if opened is not None:
        await repo.save(loaded)
        message = _step_opened(loaded.saga, opened, record.grade, entries)
        await emit(message, target=UnitRef.parse(opened.party_unit))
        return
    days = rulebook.archive_handover_days(record.from_province)
    loaded.saga.complete(at.now, at.today, days)
    await repo.save(loaded)
    moved = await repo.move(pid, record.to_school, record.to_province, record.grade, at.now)
    if moved != len(entries):
        raise RuntimeError(f"progression {pid}: {moved} of {len(entries)} students moved")
    await repo.settle_items(pid, "progressed")
    ids = [e.entry_id for e in entries]
    decider = Decider(account=decision.decided_by, unit=decision.decided_unit)
    for start in range(0, len(ids), 500):
        await log_changes(
            repo.session,
            kind=PROGRESSED,
            subject_id=pid,
            decider=decider,
            at=at.now,
            where=entries_in(ids[start : start + 500]),
        )
    completed = _completed(loaded, entries, at.now)
    for unit in _completed_targets(record):
        await emit(completed, target=unit)
    await emit(_updated(loaded.saga, await repo.items(pid)), target=_school_unit(record.to_school))
    log.info("progression %s completed: %d students moved", pid, moved)


async def _leave_out(
    repo: ProgressionRepository,
    pid: str,
    step: Step,
    reasons: Mapping[str, str],
    numbers: Sequence[str],
    items: Mapping[str, Row[Any]],
) -> None:
    """The students a party left out: released, each with the party's reason."""
    by_reason: dict[str, list[str]] = {}
    for number in numbers:
        by_reason.setdefault(reasons[number], []).append(number)
    for reason, group in by_reason.items():
        text = f"{step.role} ({step.party_unit}) left the student out: {reason}"[:500]
        await repo.settle_items(
            pid,
            "left_out",
            rule=rules.RULE_LEFT_OUT,
            reason=text,
            article=rules.ARTICLES[rules.RULE_LEFT_OUT],
            named=group,
        )
    await repo.release(pid, [items[n].entry_id for n in numbers])


async def _reject(
    repo: ProgressionRepository, emit: Emit, loaded: Loaded, step: Step, decision: Decision
) -> None:
    pid = loaded.record.progression_id
    loaded.saga.reject(step, decision)
    await repo.save(loaded)
    await repo.release(pid)
    await repo.settle_items(
        pid,
        "rejected",
        rule=rules.RULE_REJECTED,
        reason=(loaded.saga.closing_reason or "")[:500],
        article=rules.ARTICLES[rules.RULE_REJECTED],
    )
    await _tell_closed(emit, loaded, loaded.saga.closing_reason or "rejected")
    await emit(
        _updated(loaded.saga, await repo.items(pid)),
        target=_school_unit(loaded.record.to_school),
    )


async def _tell_closed(emit: Emit, loaded: Loaded, reason: str) -> None:
    closed = ProgressionClosed(
        progression_id=uuid.UUID(loaded.record.progression_id),
        outcome="rejected",
        reason=reason[:500],
        rule=loaded.saga.closing_rule,
    )
    receiving = _school_unit(loaded.record.to_school)
    units = {UnitRef.parse(s.party_unit) for s in loaded.saga.steps if s.opened_on is not None}
    for unit in sorted(units | {receiving}, key=str):
        if unit != NATIONAL:
            await emit(closed, target=unit)


async def _tell_the_other_holder(
    emit: Emit, loaded: Loaded, step: Step, decision: Decision
) -> None:
    """The unit still holding a task for the decided step hears it is settled: the late party
    when its superior decided, the superior when the party decided after being reported."""
    if decision.intervention:
        holder = step.party_unit
    elif step.overdue_notified_at is not None:
        holder = step.superior_unit
    else:
        return
    if holder == str(NATIONAL):
        return
    settled = ProgressionStepSettled(
        progression_id=uuid.UUID(loaded.record.progression_id),
        step_id=uuid.UUID(step.step_id),
        decided_unit=decision.decided_unit,
        intervention=decision.intervention,
    )
    await emit(settled, target=UnitRef.parse(holder))


# ---------------------------------------------------------------------------- deadlines


async def report_overdue(session: AsyncSession, as_of: date, now: datetime) -> int:
    """The deadline sweep's part for progressions (HA art. 11(三)): each open step past its
    due date is reported once to the party's superior (``progression.step_overdue``), which
    may then decide it; a province's step waits for national (nothing is sent). Returns how
    many were sent."""
    repo = ProgressionRepository(session)
    held = HeldMessages()
    sent = 0
    for row in await repo.mark_overdue(as_of, now):
        if row.superior_unit == str(NATIONAL):
            log.warning(
                "progression %s: %s step overdue, on national's list", row.progression_id, row.role
            )
            continue
        emit = held.emitter(NATIONAL, correlation_id=uuid.UUID(row.correlation_id))
        overdue = ProgressionStepOverdue(
            progression_id=uuid.UUID(row.progression_id),
            step_id=uuid.UUID(row.step_id),
            role=row.role,
            party=row.party_unit,
            from_school=row.from_school,
            to_school=row.to_school,
            grade=row.grade,
            student_count=await repo.held_count(row.progression_id),
            due_on=row.due_on,
        )
        await emit(overdue, target=UnitRef.parse(row.superior_unit))
        sent += 1
    await held.stage(session)
    return sent


# ----------------------------------------------------------------------------- messages


def _school_unit(code: str) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=code)


def _completed_targets(record: Row[Any]) -> list[UnitRef]:
    units = [
        _school_unit(record.to_school),
        _school_unit(record.from_school),
        UnitRef(tier=Tier.PROVINCE, code=record.from_province),
        UnitRef(tier=Tier.PROVINCE, code=record.to_province),
    ]
    return list(dict.fromkeys(units))


def _updated(saga: Transfer, items: Sequence[Mapping[str, Any] | Row[Any]]) -> ProgressionUpdated:
    rows = [i if isinstance(i, Mapping) else i._mapping for i in items]
    return ProgressionUpdated(
        progression_id=uuid.UUID(saga.transfer_id),
        state=_state(saga),
        items=tuple(
            ItemOutcomeUpdate(
                student_number=r["named"],
                outcome=r["outcome"],
                rule=r["rule"],
                reason=r["reason"],
                article=r["article"],
            )
            for r in rows
        ),
        rule=saga.closing_rule,
        reason=saga.closing_reason,
    )


def _state(saga: Transfer) -> Any:
    state = saga.state.value
    return "in_progress" if state == "requested" else state


def _step_opened(
    saga: Transfer, step: Step, grade: int, entries: Sequence[Row[Any]]
) -> ProgressionStepOpened:
    assert step.opened_on is not None and step.due_on is not None
    return ProgressionStepOpened(
        progression_id=uuid.UUID(saga.transfer_id),
        step_id=uuid.UUID(step.step_id),
        role=step.role,
        from_school=saga.from_school,
        to_school=saga.to_school,
        grade=grade,
        students=tuple(
            CohortStudent(
                student_number=e.student_number,
                basic=basic_of(e, e.grade),  # type: ignore[arg-type]
                status=e.status,
            )
            for e in entries
        ),
        opened_on=step.opened_on,
        due_on=step.due_on,
        due_approximate=step.due_approximate,
    )


def _completed(loaded: Loaded, entries: Sequence[Row[Any]], now: datetime) -> ProgressionCompleted:
    record = loaded.record
    assert loaded.saga.archive_due_on is not None
    return ProgressionCompleted(
        progression_id=uuid.UUID(record.progression_id),
        from_school=record.from_school,
        to_school=record.to_school,
        grade=record.grade,
        completed_at=now,
        archive_due_on=loaded.saga.archive_due_on,
        students=tuple(
            ProgressedStudent(
                student_number=e.student_number,
                student=summary_of(e, record.grade),  # type: ignore[arg-type]
                basic=basic_of(e, record.grade),  # type: ignore[arg-type]
            )
            for e in entries
        ),
    )
