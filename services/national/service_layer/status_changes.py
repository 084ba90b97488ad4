"""Use case: an authority approved (or recorded) a status change (学籍变动); national checks it
against the registry and applies it (N2013 arts. 13, 19-22; N2025 arts. 14, 21).

One pipeline for every change: :func:`decide_status_change` finds the registration, asks
:func:`services.national.domain.status_rules.decide` (the state machine, then the change's own
rules and the province's, from ``[status_change]`` of its rules file), and either

- applies it: the registry entry's status and grade, the current suspension (休学: until when,
  how often extended), a transfer in progress stopped when the student leaves ``enrolled``
  (``transfer.closed`` stopped / ``status_changed`` to its parties); or
- refuses it naming the rule and article.

Either way the decision is kept (``status_change``) and sent to the school and its province
as ``status_change.decided``; a re-sent approval is answered with the same decision.

:func:`sweep_suspensions` is national's own change: suspensions over without resumption become
``other_departure`` where the province says so (LS 2(二)3: 学校可以做其他离校处理).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import RegistryEntry
from services.national.adapters.repository import NationalRepository
from services.national.adapters.status_repository import LapseCoverage, StatusRepository
from services.national.domain.status import Change, RegistryStatus, StatusChangeRefused
from services.national.domain.status import stops_transfer as leaves_enrolled
from services.national.domain.status_rules import (
    Cohort,
    Effect,
    Registration,
    Request,
    StatusPolicy,
    decide,
    years_before,
)
from services.national.domain.transfer_rules import GRADUATING_GRADE
from services.national.service_layer.change_log import (
    STATUS_CHANGE,
    decider_or_unit,
    entries_in,
    log_changes,
)
from services.national.service_layer.key_fields import find_entry
from services.national.service_layer.ports import DECIDED_BY, tell_school_and_province
from services.national.service_layer.transfers.closing import stop_active_transfer
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.contracts.decider import SYSTEM, Decider
from shared.contracts.filing import FilingSubmitted
from shared.contracts.status import StatusChangeApproved, StatusChangeDecided, StatusChangeFacts
from shared.messaging.emit import Emit
from shared.rules import StatusChangeRules, province_scopes

log = logging.getLogger(__name__)

RULE_PLACEMENT_UNKNOWN = "placement_school_unknown"

RULE_UNKNOWN_STUDENT = "unknown_student_number"
RULE_OTHER_SCHOOL = "not_registered_at_school"
GRADES_BY_STAGE = {
    "primary": range(1, 7),
    "junior": range(7, 10),
    "senior": range(10, 13),
    "nine_year": range(1, 10),
    "special": range(1, 13),
}
LAPSE_RULE = "status_change.lapse_to_other_departure"  # the province rule of a lapse
LAPSE_NAMESPACE = uuid.UUID("9a4f1c2e-7b3d-4e5f-8a6b-1c2d3e4f5a6b")


class ConcurrentChange(Exception):
    """The registration changed between reading and writing it (a transient failure: the
    consumer retries the message, which is then decided on the registration as it is)."""


@dataclass(frozen=True)
class Moment:
    today: date
    now: datetime


async def decide_status_change(
    session: AsyncSession,
    emit: Emit,
    rulebook: Rulebook,
    approved: StatusChangeApproved,
    clock: Moment,
) -> StatusChangeDecided:
    """Check and apply an approved change; tell the school and its province."""
    statuses = StatusRepository(session)
    known = await statuses.record(str(approved.change_id))
    if known is not None:  # the same change again: the same answer
        decided = StatusChangeDecided.model_validate(known.decision)
    else:
        decided = await _decide(session, rulebook, approved, clock)
    await tell_school_and_province(emit, decided, approved.school_code)
    await file_graduating_suspension(emit, rulebook, approved, decided)
    return decided


FILING_NAMESPACE = uuid.UUID("5c1f0e4a-2d3b-4c6e-9f8a-7b6c5d4e3f2a")
GRADUATING_SUSPENSION_ARTICLE = "LS 2(二)5"


async def file_graduating_suspension(
    emit: Emit, rulebook: Rulebook, approved: StatusChangeApproved, decided: StatusChangeDecided
) -> None:
    """毕业年级学生办理休学…报州教育局备案审核 (LS 2(二)5): a suspension applied to a student
    in the last grade of the school's stage is filed with the school's city, where the
    province's rules say so and the city is a unit of the federation (decision 0034)."""
    if decided.outcome != "applied" or approved.facts.change != "suspend":
        return
    school = rulebook.federation.school(approved.school_code)
    if school is None or rulebook.federation.city(school.city) is None:
        return
    if decided.from_grade != GRADUATING_GRADE.get(school.stage):
        return
    if not rulebook.province_rules(school.code).filing.graduating_suspension_with_city:
        return
    filed = FilingSubmitted(
        filing_id=uuid.uuid5(FILING_NAMESPACE, f"graduating_suspension:{approved.change_id}"),
        kind="graduating_suspension",
        school_code=school.code,
        subject_id=approved.change_id,
        student_numbers=(approved.student_number,),
        grade=decided.from_grade,
        effective_on=approved.facts.effective_on,
        article=GRADUATING_SUSPENSION_ARTICLE,
    )
    await emit(filed, target=school.city_unit)


async def _decide(
    session: AsyncSession, rulebook: Rulebook, approved: StatusChangeApproved, clock: Moment
) -> StatusChangeDecided:
    entry = await find_entry(NationalRepository(session), approved.student_number)
    base = _decision(approved)
    if entry is None:
        decided = _refused(base, RULE_UNKNOWN_STUDENT, "no registration has this student number")
    elif entry.school_code != approved.school_code:
        decided = _refused(base, RULE_OTHER_SCHOOL, "the student is not registered at this school")
    else:
        decided = await _check_and_apply(session, rulebook, entry, approved, base, clock)
    await StatusRepository(session).add_record(_record(approved, entry, decided, clock.now))
    log.info("status change %s: %s (%s)", approved.change_id, decided.outcome, decided.rule)
    return decided


async def _check_and_apply(
    session: AsyncSession,
    rulebook: Rulebook,
    entry: RegistryEntry,
    approved: StatusChangeApproved,
    base: dict[str, Any],
    clock: Moment,
) -> StatusChangeDecided:
    facts = approved.facts
    request = _request(facts)
    province = rulebook.province_rules(entry.school_code)
    rules = province.status_change
    policy = policy_of(rules, f"{province.name or province.code} rules [status_change]")
    registration = await _registration(session, rulebook, entry)
    attending = facts.attending_school
    if request.change is Change.PLACE and attending and not rulebook.federation.school(attending):
        return _refused(
            base,
            RULE_PLACEMENT_UNKNOWN,
            f"school {attending} is not in the federation",
            "N2013 art. 17",
            entry,
        )
    cohort = await _cohort(session, entry, request, policy)
    try:
        effect = decide(request, registration, policy, clock.today, cohort)
    except StatusChangeRefused as refused:
        return _refused(base, refused.rule, refused.reason, refused.article, entry)
    from_status, from_grade = entry.status, entry.grade  # the update refreshes ``entry``
    stopped = None
    if leaves_enrolled(request.change) and entry.active_transfer_id is not None:
        stopped = await stop_active_transfer(
            session,
            entry.student_number,
            f"the student is now {effect.status.value} ({facts.change} as of "
            f"{facts.effective_on.isoformat()}; {effect.article})",
            now=clock.now,
        )
    await apply(session, entry, request, effect, clock.now)
    await log_changes(
        session,
        kind=STATUS_CHANGE,
        subject_id=str(approved.change_id),
        decider=decider_or_unit(approved.approver, approved.authority),
        at=clock.now,
        where=entries_in([entry.entry_id]),
    )
    return StatusChangeDecided(
        **base,
        outcome="applied",
        article=effect.article,
        from_status=from_status,
        to_status=effect.status.value,
        from_grade=from_grade,
        to_grade=effect.grade,
        suspended_until=effect.suspended_until,
        stopped_transfer_id=stopped,
        **_death_report(rulebook, rules, entry, request, clock.today),
    )


async def apply(
    session: AsyncSession, entry: RegistryEntry, request: Request, effect: Effect, now: datetime
) -> None:
    """Write the change to the registry and keep the current suspension in step with it."""
    statuses = StatusRepository(session)
    before = str(entry.status)
    moved = await statuses.set_status(
        entry.entry_id, (before, entry.grade), (effect.status.value, effect.grade), now
    )
    if not moved:  # decided on a state that is gone: retried, and decided again on the new one
        raise ConcurrentChange(f"registry entry {entry.entry_id} changed meanwhile")
    if request.change is Change.SUSPEND and effect.suspended_until is not None:
        await statuses.start_suspension(
            {
                "entry_id": entry.entry_id,
                "school_code": entry.school_code,
                "province_code": entry.province_code,
                "started_on": request.effective_on,
                "until": effect.suspended_until,
                "extensions": 0,
            }
        )
    elif request.change is Change.EXTEND_SUSPENSION and effect.suspended_until is not None:
        await statuses.extend_suspension(entry.entry_id, effect.suspended_until)
    elif before == RegistryStatus.SUSPENDED:
        await statuses.end_suspension(entry.entry_id)
    if request.change is Change.PLACE and request.attending_school and request.placement:
        await statuses.place(
            {
                "entry_id": entry.entry_id,
                "registered_school": entry.school_code,
                "attending_school": request.attending_school,
                "kind": request.placement,
                "started_on": request.effective_on,
            }
        )
    elif request.change is Change.END_PLACEMENT or effect.status is not RegistryStatus.ENROLLED:
        await statuses.end_placement(entry.entry_id)  # a student who leaves is placed nowhere


def policy_of(rules: StatusChangeRules, citation: str) -> StatusPolicy:
    """A province's ``[status_change]`` rules as the domain applies them."""
    return StatusPolicy(
        citation=citation,
        suspension_months=rules.suspension.months,
        max_extensions=rules.suspension.max_extensions,
        compulsory_grounds=rules.suspension.compulsory_grounds,
        death_report_working_days=rules.death_report_working_days,
        absence_months=rules.absence_months,
        deferral_allowed=rules.deferral.allowed,
        deferral_grades=rules.deferral.grades,
        skip_allowed=rules.grade.skip_allowed,
        skip_max_grades=rules.grade.skip_max_grades,
        skip_within_stage=rules.grade.skip_within_stage,
        skip_into_graduating_year=rules.grade.skip_into_graduating_year,
        repeat_in_compulsory=rules.grade.repeat_in_compulsory,
        repeat_graduating_year=rules.grade.repeat_graduating_year,
        withdrawal_allowed=rules.withdrawal.allowed,
        withdrawal_min_age=rules.withdrawal.min_age,
        senior_repeat_cap_percent=rules.grade.senior_repeat_cap_percent,
        repeat_cap_years=rules.grade.repeat_cap_years,
    )


def _request(facts: StatusChangeFacts) -> Request:
    return Request(
        change=Change(facts.change),
        effective_on=facts.effective_on,
        target_grade=facts.target_grade,
        ground=facts.ground,
        compulsory=facts.compulsory,
        special_education=facts.special_education,
        attending_school=facts.attending_school,
        placement=facts.placement,
    )


async def _registration(
    session: AsyncSession, rulebook: Rulebook, entry: RegistryEntry
) -> Registration:
    school = rulebook.federation.school(entry.school_code)
    grades = GRADES_BY_STAGE.get(school.stage if school else "special", range(1, 13))
    suspension = await StatusRepository(session).suspension(entry.entry_id)
    return Registration(
        status=entry.status,
        grade=entry.grade,
        grades=grades,
        in_transfer=entry.active_transfer_id is not None,
        extensions=suspension.extensions if suspension else 0,
        suspended_until=suspension.until if suspension else None,
        birth_date=entry.birth_date,
        school_code=entry.school_code,
        placed_at=await StatusRepository(session).placed_at(entry.entry_id),
    )


async def _cohort(
    session: AsyncSession, entry: RegistryEntry, request: Request, policy: StatusPolicy
) -> Cohort | None:
    """The grade's size and repeats in the window, only when the cap applies."""
    if request.change is not Change.REPEAT_GRADE or policy.senior_repeat_cap_percent is None:
        return None
    statuses = StatusRepository(session)
    since = years_before(request.effective_on, policy.repeat_cap_years)
    return Cohort(
        size=await statuses.grade_size(entry.school_code, entry.grade),
        repeats=await statuses.repeats(entry.school_code, entry.grade, since),
    )


def _death_report(
    rulebook: Rulebook,
    rules: StatusChangeRules,
    entry: RegistryEntry,
    request: Request,
    today: date,
) -> dict[str, Any]:
    """A death is reported within ``death_report_working_days`` working days of the
    province's calendar (N2025 art. 21); a later report is applied and flagged late."""
    if request.change is not Change.DECEASE:
        return {}
    calendar = rulebook.calendar(entry.province_code)
    due = calendar.add_workdays(request.effective_on, rules.death_report_working_days).due
    return {"report_due_on": due, "reported_late": today > due}


def _decision(approved: StatusChangeApproved) -> dict[str, Any]:
    return {
        "change_id": approved.change_id,
        "school_code": approved.school_code,
        "student_number": approved.student_number,
        "facts": approved.facts,
        "decided_by": DECIDED_BY,
        "decider": decider_or_unit(approved.approver, approved.authority),
        "proofs": approved.proofs,
    }


def _refused(
    base: dict[str, Any],
    rule: str,
    reason: str,
    article: str | None = None,
    entry: RegistryEntry | None = None,
) -> StatusChangeDecided:
    return StatusChangeDecided(
        **base,
        outcome="rejected",
        rule=rule,
        reason=reason[:500],
        article=article,
        from_status=entry.status if entry else None,
        from_grade=entry.grade if entry else None,
    )


def _record(
    approved: StatusChangeApproved,
    entry: RegistryEntry | None,
    decided: StatusChangeDecided,
    now: datetime,
) -> dict[str, Any]:
    return {
        "change_id": str(approved.change_id),
        "entry_id": entry.entry_id if entry else None,
        "student_number": approved.student_number,
        "school_code": approved.school_code,
        "change": approved.facts.change,
        "effective_on": approved.facts.effective_on,
        "outcome": decided.outcome,
        "from_status": decided.from_status,
        "to_status": decided.to_status,
        "from_grade": decided.from_grade,
        "to_grade": decided.to_grade,
        "authority": approved.authority,
        "rule": decided.rule,
        "reason": decided.reason,
        "article": decided.article,
        "decision": decided.model_dump(mode="json"),
        "decided_at": now,
    }


# ------------------------------------------------------------------ the suspension sweep


@dataclass(frozen=True)
class SuspensionSweep:
    as_of: date
    lapsed: int  # made other_departure (provinces with ``lapse_to_other_departure``)
    left_to_schools: int  # over, in provinces that leave it to the school


async def sweep_suspensions(
    session: AsyncSession,
    emit: Emit,
    rulebook: Rulebook,
    as_of: date,
    now: datetime,
    limit: int = 1000,
) -> SuspensionSweep:
    """Suspensions over before ``as_of`` without resumption become ``other_departure`` where
    the province's rules say so (LS 2(二)3); at most ``limit`` per run. Each lapse is a
    status change of national's own (id derived from the student and the end date, so a
    repeated sweep changes nothing) sent to the school and the province."""
    coverage = lapse_coverage(rulebook)
    statuses = StatusRepository(session)
    rows = await statuses.lapsed(as_of, coverage, limit)
    for suspension, entry in rows:
        approved = StatusChangeApproved(
            change_id=uuid.uuid5(LAPSE_NAMESPACE, f"{entry.entry_id}:{suspension.until}"),
            school_code=entry.school_code,
            student_number=entry.student_number,
            facts=StatusChangeFacts(
                change="lapse", effective_on=min(suspension.until + timedelta(days=1), as_of)
            ),
            authority=DECIDED_BY,
            approver=Decider(account=SYSTEM, unit=DECIDED_BY, rule=LAPSE_RULE),
        )
        await decide_status_change(session, emit, rulebook, approved, Moment(as_of, now))
    left = await statuses.count_lapsed(as_of, coverage)
    log.info("suspension sweep %s: %d lapsed, %d left to schools", as_of, len(rows), left)
    return SuspensionSweep(as_of, len(rows), left)


def lapse_coverage(rulebook: Rulebook) -> LapseCoverage:
    """Where suspensions lapse to other departure: each province whose rules say so, and each
    prefecture scope that differs from the level above it (LS 2(二)3 in Liangshan only)."""
    include: list[str] = []
    exclude: list[str] = []

    def lapses(code: str) -> bool:
        return rulebook.province_rules(code).status_change.suspension.lapse_to_other_departure

    for province in rulebook.federation.provinces:
        if lapses(province.code):
            include.append(province.code)
        scopes = province_scopes(rulebook.config, province.code)  # shortest first
        for prefix in scopes:
            enclosing = [q for q in scopes if q != prefix and prefix.startswith(q)]
            above = lapses(enclosing[-1] if enclosing else province.code)
            if lapses(prefix) != above:
                (include if lapses(prefix) else exclude).append(prefix)
    return LapseCoverage(tuple(include), tuple(exclude))
