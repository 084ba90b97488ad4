"""The rules a status change (学籍变动) must pass at national, beyond the state machine.

:func:`decide` first asks :func:`~services.national.domain.status.check_transition` whether the
change may start from the registration's status at all, then applies the rules of the change
itself — durations, grades, the province's choices (:class:`StatusPolicy`, read from
``config/provinces/<code>.toml`` ``[status_change]``) — and returns what the change does
(:class:`Effect`), or raises :class:`~services.national.domain.status.StatusChangeRefused`
naming the rule and the article it comes from. Standard library only.

The rules, with their names:

- every change: ``effective_in_future`` (a change is recorded once it has happened);
  ``transfer_in_progress`` (a grade change while a transfer holds the student: the grade would
  change under the deciding parties; changes that take the student out of ``enrolled`` are
  allowed and stop the transfer instead).
- suspend (N2013 art. 19; HA art. 13; LS 2(二); ZJ art. 14): lasts ``months``;
  ``compulsory_suspension_not_provided`` — a suspension the school orders (责令休学) only on
  the grounds the province provides (ZJ art. 14: a notifiable disease needing isolation).
- extend_suspension: ``suspension_extension_limit`` beyond ``max_extensions`` in a row.
- resume (ZJ art. 15: 安排在相应年级; LS 2(二)5: 严禁以降级或留级为目的办理休学):
  ``target_grade_required``; ``resumption_grade_lower`` below the grade at suspension;
  ``resumption_grade_skips`` more than one grade above it.
- return (LS 2(四): 辍学学生返校应接续相应年级，严禁 … 变相留级): ``return_grade_lower``.
- withdraw (ZJ art. 17: 年龄不足18周岁、未受完九年义务教育的学生，不予办理退学手续。年满18周岁 …
  办理退学手续): ``withdrawal_not_provided`` where the province's rules provide none;
  ``withdrawal_under_age`` under ``min_age`` (18) on the day it takes effect. The article
  refuses only the under-18 student who has not completed the nine years; an under-18 who has
  completed them leaves by graduating or completing, not by withdrawal, so age alone decides.
- place (N2013 art. 17; HA art. 12; ZJ art. 13): ``placement_incomplete`` without the
  attending school or the kind of placement; ``placement_same_school`` when the student would
  attend the school of registration. end_placement: ``not_placed`` without a placement.
- every grade a student is placed in: ``grade_outside_stage`` (the school's grades).
- decease (N2025 art. 21; HA art. 16): ``missing_or_detained_not_cancelled`` — a missing or
  detained student keeps the registration; a death reported after ``death_report_working_days``
  working days is applied and flagged late (the school answers for it, N2013 art. 27).
- report_absence (LS 2(四)): ``absence_too_short`` — away (``effective_on``: the day the
  student left) less than the province's ``absence_months``.
- defer (ZJ art. 6): ``deferral_not_provided``; ``deferral_first_grade_only``. start: the
  deferred child starts in the grade they were registered in (``start_grade``).
- skip_grade (HA art. 15; ZJ art. 12): ``grade_skip_not_allowed``, ``grade_skip_not_higher``,
  ``grade_skip_too_far`` (``skip_max_grades``), ``grade_skip_across_stage`` (HA: 跳级不能跨学段),
  ``grade_skip_graduating_year`` (ZJ: 升入毕业班及毕业班学生不予跳级).
- repeat_grade (LS 2(三); ZJ art. 12; N2025 art. 14): one grade lower (``repeat_grade_not_lower``,
  ``repeat_grade_too_far``); ``repeat_not_allowed_compulsory`` in grades 1-9 unless the
  province allows it (for special-education / inclusive students, or at all);
  ``repeat_graduating_year``; ``repeat_cap_exceeded`` — high school repeats of a grade over
  ``repeat_cap_years`` stay within ``senior_repeat_cap_percent`` of the grade (LS 2(三): 2 %).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from services.national.domain.status import (
    Change,
    RegistryStatus,
    StatusChangeRefused,
    check_transition,
)

RULE_EFFECTIVE_IN_FUTURE = "effective_in_future"
RULE_TRANSFER_IN_PROGRESS = "transfer_in_progress"
RULE_COMPULSORY_NOT_PROVIDED = "compulsory_suspension_not_provided"
RULE_EXTENSION_LIMIT = "suspension_extension_limit"
RULE_TARGET_GRADE_REQUIRED = "target_grade_required"
RULE_RESUMPTION_LOWER = "resumption_grade_lower"
RULE_RESUMPTION_SKIPS = "resumption_grade_skips"
RULE_RETURN_LOWER = "return_grade_lower"
RULE_OUTSIDE_STAGE = "grade_outside_stage"
RULE_MISSING_NOT_CANCELLED = "missing_or_detained_not_cancelled"
RULE_ABSENCE_TOO_SHORT = "absence_too_short"
RULE_DEFERRAL_NOT_PROVIDED = "deferral_not_provided"
RULE_DEFERRAL_GRADE = "deferral_first_grade_only"
RULE_START_GRADE = "start_grade"
RULE_SKIP_NOT_ALLOWED = "grade_skip_not_allowed"
RULE_SKIP_NOT_HIGHER = "grade_skip_not_higher"
RULE_SKIP_TOO_FAR = "grade_skip_too_far"
RULE_SKIP_ACROSS_STAGE = "grade_skip_across_stage"
RULE_SKIP_GRADUATING = "grade_skip_graduating_year"
RULE_REPEAT_NOT_LOWER = "repeat_grade_not_lower"
RULE_REPEAT_TOO_FAR = "repeat_grade_too_far"
RULE_REPEAT_COMPULSORY = "repeat_not_allowed_compulsory"
RULE_REPEAT_GRADUATING = "repeat_graduating_year"
RULE_REPEAT_CAP = "repeat_cap_exceeded"
RULE_PLACEMENT_INCOMPLETE = "placement_incomplete"
RULE_PLACEMENT_SAME_SCHOOL = "placement_same_school"
RULE_NOT_PLACED = "not_placed"
RULE_WITHDRAWAL_NOT_PROVIDED = "withdrawal_not_provided"
RULE_WITHDRAWAL_UNDER_AGE = "withdrawal_under_age"

# The stages a grade belongs to (跨学段 is crossing one of these borders).
STAGE_OF_GRADE = {**dict.fromkeys(range(1, 7), "primary"), **dict.fromkeys(range(7, 10), "junior")}
STAGE_OF_GRADE.update(dict.fromkeys(range(10, 13), "senior"))
LAST_COMPULSORY_GRADE = 9

_GRADE_CHANGES = frozenset({Change.SKIP_GRADE, Change.REPEAT_GRADE})
_PLACING = frozenset({Change.RESUME, Change.RETURN, Change.RETURN_FROM_ABROAD})


@dataclass(frozen=True)
class StatusPolicy:
    """A province's choices (``[status_change]`` of its rules file) and how to cite them."""

    citation: str  # e.g. "浙江省 rules (config/provinces/33.toml)"
    suspension_months: int = 12
    max_extensions: int = 1
    compulsory_grounds: tuple[str, ...] = ()
    death_report_working_days: int = 60
    absence_months: int | None = None
    deferral_allowed: bool = True
    deferral_grades: tuple[int, ...] = (1,)
    skip_allowed: bool = True
    skip_max_grades: int = 1
    skip_within_stage: bool = True
    skip_into_graduating_year: bool = True
    repeat_in_compulsory: str = "special_education"
    repeat_graduating_year: bool = True
    senior_repeat_cap_percent: float | None = None
    repeat_cap_years: int = 3
    withdrawal_allowed: bool = False
    withdrawal_min_age: int = 18


@dataclass(frozen=True)
class Request:
    """The change as the authority approved it."""

    change: Change
    effective_on: date
    target_grade: int | None = None
    ground: str | None = None
    compulsory: bool = False
    special_education: bool = False
    attending_school: str | None = None  # place
    placement: str | None = None  # place: special_education | inclusive | reform_school


@dataclass(frozen=True)
class Registration:
    """What national knows of the student and their school."""

    status: str
    grade: int
    grades: range  # the grades the school teaches
    in_transfer: bool = False
    extensions: int = 0  # extensions of the current suspension so far
    suspended_until: date | None = None  # when the current suspension ends
    birth_date: date | None = None
    school_code: str = ""
    placed_at: str | None = None  # the school attended under a placement, if any


@dataclass(frozen=True)
class Cohort:
    """For the high-school repeat cap: the grade's size and its repeats in the window."""

    size: int
    repeats: int


@dataclass(frozen=True)
class Effect:
    """What an allowed change does to the registration."""

    status: RegistryStatus
    grade: int
    article: str
    suspended_until: date | None = None


def decide(
    request: Request,
    registration: Registration,
    policy: StatusPolicy,
    today: date,
    cohort: Cohort | None = None,
) -> Effect:
    """The change's effect, or :class:`StatusChangeRefused` naming the first rule against it."""
    transition = check_transition(registration.status, request.change)
    article = transition.article
    if request.effective_on > today:
        _refuse(RULE_EFFECTIVE_IN_FUTURE, "the change is dated after today", "N2013 art. 13")
    if registration.in_transfer and request.change in _GRADE_CHANGES:
        _refuse(
            RULE_TRANSFER_IN_PROGRESS,
            "a transfer of this student is in progress: the grade cannot change under it",
            "LS 2(一)6(4); ZJ art. 13",
        )
    grade = _grade(request, registration, policy, cohort)
    until = None
    if request.change in (Change.SUSPEND, Change.EXTEND_SUSPENSION):
        _check_suspension(request, registration, policy)
        # An extension runs on from the end of the suspension it extends.
        start = registration.suspended_until if request.change is Change.EXTEND_SUSPENSION else None
        until = add_months(start or request.effective_on, policy.suspension_months)
    if request.change is Change.DECEASE:
        _check_death(request)
    if request.change is Change.REPORT_ABSENCE and policy.absence_months is not None:
        _check_absence(request, policy.absence_months, policy.citation, today)
    if request.change is Change.DEFER:
        _check_deferral(registration, policy)
    if request.change in (Change.PLACE, Change.END_PLACEMENT):
        _check_placement(request, registration)
    if request.change is Change.WITHDRAW:
        _check_withdrawal(request, registration, policy)
    return Effect(transition.target, grade, article, until)


def _check_placement(request: Request, registration: Registration) -> None:
    article = "N2013 art. 17; HA art. 12; ZJ art. 13"
    if request.change is Change.END_PLACEMENT:
        if registration.placed_at is None:
            _refuse(
                RULE_NOT_PLACED, "the student attends no other school under a placement", article
            )
        return
    if request.attending_school is None or request.placement is None:
        _refuse(
            RULE_PLACEMENT_INCOMPLETE,
            "a placement names the school the student attends and its kind (special_education, "
            "inclusive, reform_school)",
            article,
        )
    if request.attending_school == registration.school_code:
        _refuse(
            RULE_PLACEMENT_SAME_SCHOOL,
            "the student attends the school of registration: no placement to record",
            article,
        )


def _check_withdrawal(request: Request, registration: Registration, policy: StatusPolicy) -> None:
    if not policy.withdrawal_allowed:
        _refuse(
            RULE_WITHDRAWAL_NOT_PROVIDED,
            f"the province's rules provide no withdrawal ({policy.citation}); a student of "
            "compulsory-education age keeps the registration (N2013 art. 22)",
            "ZJ art. 17; N2013 art. 22",
        )
    age = full_years(registration.birth_date, request.effective_on)
    if age is None or age < policy.withdrawal_min_age:
        _refuse(
            RULE_WITHDRAWAL_UNDER_AGE,
            f"withdrawal needs the student to be {policy.withdrawal_min_age} or over on "
            f"{request.effective_on.isoformat()} (年龄不足18周岁 … 不予办理退学手续); "
            f"the student is {'of unknown age' if age is None else age}",
            "ZJ art. 17",
        )


def full_years(birth: date | None, on: date) -> int | None:
    """Age in full years on ``on`` (a February 29 birthday counts on March 1)."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _grade(
    request: Request, registration: Registration, policy: StatusPolicy, cohort: Cohort | None
) -> int:
    """The grade after the change; placements and grade changes are checked here."""
    change = request.change
    if change is Change.START:
        wanted = registration.grade  # a deferred child is not promoted meanwhile
        if request.target_grade not in (None, wanted):
            _refuse(
                RULE_START_GRADE,
                f"a deferred child starts in grade {wanted}, the grade of their registration",
                "ZJ art. 6",
            )
        return wanted
    if change not in _PLACING | _GRADE_CHANGES:
        return registration.grade
    target = _target(request)
    if target not in registration.grades:
        _refuse(
            RULE_OUTSIDE_STAGE,
            f"grade {target} is not taught at this school "
            f"({registration.grades[0]}-{registration.grades[-1]})",
            "N2013 art. 13",
        )
    if change is Change.RESUME:
        _check_resumption(target, registration.grade)
    elif change is Change.RETURN and target < registration.grade:
        _refuse(
            RULE_RETURN_LOWER,
            f"a returning student continues in grade {registration.grade} or above "
            f"(no disguised repeat); grade {target} was asked",
            "LS 2(四)",
        )
    elif change is Change.SKIP_GRADE:
        _check_skip(target, registration, policy)
    elif change is Change.REPEAT_GRADE:
        _check_repeat(target, request, registration, policy, cohort)
    return target


def _target(request: Request) -> int:
    if request.target_grade is None:
        _refuse(
            RULE_TARGET_GRADE_REQUIRED,
            f"{request.change} needs the grade the student is placed in (target_grade)",
            "ZJ art. 15; HA art. 13(三)",
        )
    return request.target_grade


def _check_resumption(target: int, grade: int) -> None:
    if target < grade:
        _refuse(
            RULE_RESUMPTION_LOWER,
            f"resumption continues the student's studies: grade {grade} or {grade + 1}, not "
            f"{target} (no suspension to repeat or lower a grade)",
            "LS 2(二)5; ZJ art. 15",
        )
    if target > grade + 1:
        _refuse(
            RULE_RESUMPTION_SKIPS,
            f"resumption continues the student's studies: grade {grade} or {grade + 1}, not "
            f"{target}",
            "ZJ art. 15; HA art. 13(三)",
        )


def _check_suspension(request: Request, registration: Registration, policy: StatusPolicy) -> None:
    if request.change is Change.EXTEND_SUSPENSION:
        if registration.extensions >= policy.max_extensions:
            _refuse(
                RULE_EXTENSION_LIMIT,
                f"this suspension was extended {registration.extensions} time(s); the province "
                f"allows {policy.max_extensions}",
                f"HA art. 13(三); ZJ art. 14; LS 2(二)4; {policy.citation}",
            )
        return
    if request.compulsory and request.ground not in policy.compulsory_grounds:
        provided = ", ".join(policy.compulsory_grounds) or "none"
        _refuse(
            RULE_COMPULSORY_NOT_PROVIDED,
            f"the school may order a suspension only on the grounds the province provides "
            f"({provided}); {request.ground or 'no ground'} was given",
            f"ZJ art. 14; N2013 art. 19; {policy.citation}",
        )


def _check_death(request: Request) -> None:
    if request.ground in ("missing", "detained"):
        _refuse(
            RULE_MISSING_NOT_CANCELLED,
            "a missing or detained student keeps the registration: report it to the "
            "authority, do not cancel it",
            "HA art. 16; ZJ art. 13",
        )


def _check_absence(request: Request, months: int, citation: str, today: date) -> None:
    """``effective_on`` is the day the student left; other departure after ``months``."""
    if add_months(request.effective_on, months) > today:
        _refuse(
            RULE_ABSENCE_TOO_SHORT,
            f"a student is set to other departure once away and unreachable for more than "
            f"{months} months; away since {request.effective_on.isoformat()}",
            f"LS 2(四); {citation}",
        )


def _check_deferral(registration: Registration, policy: StatusPolicy) -> None:
    if not policy.deferral_allowed:
        _refuse(
            RULE_DEFERRAL_NOT_PROVIDED,
            "this province provides no deferral of school start",
            policy.citation,
        )
    if registration.status == RegistryStatus.ENROLLED and (
        registration.grade not in policy.deferral_grades
    ):
        _refuse(
            RULE_DEFERRAL_GRADE,
            f"only a new pupil's start is deferred (grade {_grades(policy.deferral_grades)}); "
            f"this student is in grade {registration.grade}",
            f"ZJ art. 6; {policy.citation}",
        )


def _check_skip(target: int, registration: Registration, policy: StatusPolicy) -> None:
    grade, last = registration.grade, registration.grades[-1]
    if not policy.skip_allowed:
        _refuse(RULE_SKIP_NOT_ALLOWED, "this province allows no grade skip", policy.citation)
    if target <= grade:
        _refuse(
            RULE_SKIP_NOT_HIGHER,
            f"a skip goes to a higher grade than {grade}; {target} was asked",
            "HA art. 15; ZJ art. 12",
        )
    if target - grade > policy.skip_max_grades:
        _refuse(
            RULE_SKIP_TOO_FAR,
            f"a skip goes up at most {policy.skip_max_grades} grade(s): {grade} → {target}",
            f"ZJ art. 12 (一学年升一级); {policy.citation}",
        )
    if policy.skip_within_stage and STAGE_OF_GRADE[target] != STAGE_OF_GRADE[grade]:
        _refuse(
            RULE_SKIP_ACROSS_STAGE,
            f"a skip stays within the stage: grade {grade} is {STAGE_OF_GRADE[grade]}, "
            f"grade {target} is {STAGE_OF_GRADE[target]}",
            f"HA art. 15 (跳级不能跨学段); {policy.citation}",
        )
    if not policy.skip_into_graduating_year and last in (grade, target):
        _refuse(
            RULE_SKIP_GRADUATING,
            f"no skip into or within the graduating grade ({last})",
            f"ZJ art. 12 (升入毕业班及毕业班学生不予跳级); {policy.citation}",
        )


def _check_repeat(
    target: int,
    request: Request,
    registration: Registration,
    policy: StatusPolicy,
    cohort: Cohort | None,
) -> None:
    grade = registration.grade
    if target >= grade:
        _refuse(
            RULE_REPEAT_NOT_LOWER,
            f"a repeat places the student in a lower grade than {grade}; {target} was asked",
            "LS 2(三); ZJ art. 12",
        )
    if target < grade - 1:
        _refuse(
            RULE_REPEAT_TOO_FAR,
            f"a repeat goes back one grade: {grade} → {grade - 1}, not {target}",
            "LS 2(三); N2025 art. 14",
        )
    if grade <= LAST_COMPULSORY_GRADE:
        _check_compulsory_repeat(request, policy)
    if not policy.repeat_graduating_year and grade == registration.grades[-1]:
        _refuse(
            RULE_REPEAT_GRADUATING,
            f"no repeat in the graduating grade ({grade})",
            f"ZJ art. 12 (毕业班学生一律不留级); {policy.citation}",
        )
    if grade > LAST_COMPULSORY_GRADE and policy.senior_repeat_cap_percent is not None:
        _check_cap(grade, policy, cohort or Cohort(size=0, repeats=0))


def _check_compulsory_repeat(request: Request, policy: StatusPolicy) -> None:
    allowed = policy.repeat_in_compulsory == "allowed" or (
        policy.repeat_in_compulsory == "special_education" and request.special_education
    )
    if not allowed:
        who = (
            "special-education or inclusive students only"
            if policy.repeat_in_compulsory == "special_education"
            else "no student"
        )
        _refuse(
            RULE_REPEAT_COMPULSORY,
            f"no repeat or lower grade in compulsory education ({who})",
            f"LS 2(三); ZJ art. 12; N2025 art. 14; {policy.citation}",
        )


def repeat_cap(size: int, percent: float) -> int:
    """How many students of a grade of ``size`` may repeat in the window (rounded down)."""
    return math.floor(size * percent / 100 + 1e-9)


def _check_cap(grade: int, policy: StatusPolicy, cohort: Cohort) -> None:
    percent = policy.senior_repeat_cap_percent or 0.0
    cap = repeat_cap(cohort.size, percent)
    if cohort.repeats + 1 > cap:
        _refuse(
            RULE_REPEAT_CAP,
            f"{cohort.repeats} of grade {grade}'s {cohort.size} students repeated in the last "
            f"{policy.repeat_cap_years} years; {percent:g} % allows {cap}",
            f"LS 2(三); {policy.citation}",
        )


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (February 29 becomes the 28th)."""
    return add_months(day, -12 * years)


def _grades(grades: tuple[int, ...]) -> str:
    return ", ".join(str(g) for g in grades)


def _refuse(rule: str, reason: str, article: str) -> NoReturn:
    raise StatusChangeRefused(rule, reason, article)
