"""Progression to the next stage (升学) as a batch: who of a named cohort may progress.

N2013 art. 14 puts progression beside transfer: the receiving school starts it, the sending
school and both schools' authorities process it. LS 1(二): junior and high school records are
made only by progression, continuing the old registration; LS 3(二): graduates go on to the
next stage; N2013 art. 9 / LS 5(三): the archive follows, the graduating school keeps a
backup. The steps and their deadlines are the transfer's own machine
(:class:`services.national.domain.transfer.Transfer`, one step per party for the whole
cohort, decision 0033); this module holds what is particular to a cohort: the verdict on each
named student. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.national.domain.transfer_rules import GRADUATING_GRADE

GRADUATED = "graduated"
ENROLLED = "enrolled"
LEAVER_STATUSES = frozenset({"graduated", "completed", "incomplete"})

# The stages a graduate of each stage goes on to, and the grade they start there in.
NEXT_STAGES: Mapping[str, frozenset[str]] = {
    "primary": frozenset({"junior"}),
    "junior": frozenset({"senior"}),
    "nine_year": frozenset({"senior"}),
}
FIRST_GRADE: Mapping[str, int] = {"junior": 7, "senior": 10}

RULE_UNKNOWN_STUDENT = "progression_unknown_student"
RULE_WRONG_SCHOOL = "progression_wrong_school"
RULE_NOT_GRADUATED = "progression_not_graduated"
RULE_WRONG_STAGE = "progression_wrong_stage"
RULE_WRONG_GRADE = "progression_wrong_grade"
RULE_ALREADY_PROGRESSED = "progression_already_progressed"
RULE_HELD = "progression_held"
RULE_YI_TRACK = "progression_yi_track"
RULE_EMPTY_COHORT = "progression_empty_cohort"
RULE_LEFT_OUT = "progression_left_out"
RULE_REJECTED = "progression_rejected"

# The article behind each refusal (a province's own wording is cited in the reason).
ARTICLES: Mapping[str, str] = {
    RULE_UNKNOWN_STUDENT: "N2013 art. 5",
    RULE_WRONG_SCHOOL: "N2013 art. 14",
    RULE_NOT_GRADUATED: "N2013 art. 13; ZJ art. 25",
    RULE_WRONG_STAGE: "LS 1(二); LS 3(二)",
    RULE_WRONG_GRADE: "LS 3(一); N2013 art. 14",
    RULE_ALREADY_PROGRESSED: "N2013 art. 6; HA art. 8",
    RULE_HELD: "N2013 art. 14",
    RULE_YI_TRACK: "LS 6",
    RULE_EMPTY_COHORT: "LS 3(二)",
    RULE_LEFT_OUT: "N2013 art. 14",
    RULE_REJECTED: "N2013 art. 14",
}


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str

    @property
    def article(self) -> str:
        return ARTICLES[self.rule]


@dataclass(frozen=True)
class Graduate:
    """A named student as the registry holds them (basic info only)."""

    student_number: str
    school_code: str
    status: str
    grade: int
    held_by: str | None
    track: str | None = None  # LS 6: "yi" for the Yi-language track (一类模式), else None


@dataclass(frozen=True)
class Cohort:
    """What a progression asks: from which school (and its stage) into which stage, which
    leaver statuses the sending province lets progress, and the receiving school's track."""

    from_school: str
    from_stage: str
    to_stage: str
    accepted: frozenset[str]
    to_track: str | None = None
    yi_track_selected: frozenset[str] = frozenset()


def stage_refusal(from_stage: str, to_stage: str) -> Refusal | None:
    """The receiving school must teach the stage after the graduating school's (LS 1(二))."""
    if to_stage in NEXT_STAGES.get(from_stage, frozenset()):
        return None
    return Refusal(
        RULE_WRONG_STAGE,
        f"a {from_stage.replace('_', '-')} school's graduates do not progress to a "
        f"{to_stage.replace('_', '-')} school",
    )


def first_grade(to_stage: str) -> int:
    return FIRST_GRADE[to_stage]


def verdict(named: str, found: Graduate | None, cohort: Cohort) -> Refusal | None:
    """Why the student named ``named`` cannot progress, or None."""
    if found is None:
        return Refusal(RULE_UNKNOWN_STUDENT, f"no registration for {named}")
    return (
        _where(found, cohort)
        or stage_refusal(cohort.from_stage, cohort.to_stage)
        or _graduated(found, cohort)
        or _grade(found, cohort)
        or _held(found)
        or yi_track_refusal(
            found.track, cohort.to_track, found.student_number in cohort.yi_track_selected
        )
    )


def _where(found: Graduate, cohort: Cohort) -> Refusal | None:
    if found.school_code == cohort.from_school:
        return None
    if found.status == ENROLLED:
        return Refusal(
            RULE_ALREADY_PROGRESSED,
            f"{found.student_number} is already enrolled at school {found.school_code}",
        )
    return Refusal(
        RULE_WRONG_SCHOOL,
        f"{found.student_number} is not registered at school {cohort.from_school}",
    )


def _graduated(found: Graduate, cohort: Cohort) -> Refusal | None:
    if found.status in cohort.accepted:
        return None
    if found.status in LEAVER_STATUSES:
        return Refusal(
            RULE_NOT_GRADUATED,
            f"{found.student_number} is {found.status}; the province lets only "
            f"{', '.join(sorted(cohort.accepted))} students progress",
        )
    return Refusal(
        RULE_NOT_GRADUATED, f"{found.student_number} has not graduated (status {found.status})"
    )


def _grade(found: Graduate, cohort: Cohort) -> Refusal | None:
    last = GRADUATING_GRADE.get(cohort.from_stage)
    if last is None or found.grade == last:
        return None
    return Refusal(
        RULE_WRONG_GRADE,
        f"{found.student_number} left in grade {found.grade}, not the last grade ({last}) "
        f"of a {cohort.from_stage.replace('_', '-')} school",
    )


def _held(found: Graduate) -> Refusal | None:
    if found.held_by is None:
        return None
    return Refusal(RULE_HELD, f"{found.student_number} is held by another transfer or progression")


def yi_track_refusal(
    student_track: str | None, school_track: str | None, selected: bool
) -> Refusal | None:
    """LS 6 (一类模式): a graduate from outside the Yi-language track enters a Yi-track junior
    school only with the selection result.

    The student's track is the registry entry's ``yi_track``; the school's is "yi" only where
    the receiving school's rules require the selection (``[scope."5134".yi_track]
    progression_needs_selection``) and it is a Yi-track junior school (LS 6).
    """
    if school_track != "yi" or student_track == "yi" or selected:
        return None
    return Refusal(
        RULE_YI_TRACK,
        "Liangshan (LS 6): a graduate outside the Yi-language track enters a Yi-track school "
        "only with the selection result",
    )
