"""Graduation at national (毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一); N2013 art. 13): which
students of an approved graduating list national applies, and why it refuses the others.

Standard library only. The status change itself is the state machine's
(:mod:`.status`: ``graduate`` / ``complete`` / ``leave_incomplete``, final for the stage, never
rolled back); this module adds what the registry knows besides the status:

- the student must be registered at the school that submits the list
  (``not_registered_at_school``);
- a student held by a transfer is not graduated (``transfer_in_progress``): pending business
  blocks graduation — the transfer ends first (completed: the receiving school graduates them;
  rejected or cancelled: the school re-submits). A graduation that took a student out of
  ``enrolled`` mid-transfer would stop a transfer the parties are still deciding;
- ``graduated`` and ``completed`` certify that the course of the stage was finished
  ("在修业年限内按课程计划规定完成学业", ZJ art. 25): the student is in the school's last
  grade (``not_graduating_grade``); ``incomplete`` (肄业) is for a student who left before the
  end and may be in any grade. A special-education school has no fixed last grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.national.domain.status import (
    RULE_TRANSFER_IN_PROGRESS,
    Change,
    RegistryStatus,
    StatusChangeRefused,
    check_transition,
)

RULE_NOT_AT_SCHOOL = "not_registered_at_school"
RULE_NOT_GRADUATING_GRADE = "not_graduating_grade"
ARTICLE = "ZJ arts. 24-26; LS 3(一)"

# The certificate's wording (ZJ art. 25) → the registry change.
CHANGE_OF: Mapping[str, Change] = {
    "graduated": Change.GRADUATE,
    "completed": Change.COMPLETE,
    "incomplete": Change.LEAVE_INCOMPLETE,
}
NEEDS_LAST_GRADE = frozenset({"graduated", "completed"})


@dataclass(frozen=True)
class Registered:
    """What the registry holds of a student on the list."""

    school_code: str
    grade: int
    status: str
    in_transfer: bool


@dataclass(frozen=True)
class Refused:
    rule: str
    reason: str


def graduation_refusal(
    outcome: str, school_code: str, last_grade: int | None, entry: Registered | None
) -> Refused | None:
    """Why national does not apply ``outcome`` to this student, or ``None`` when it does."""
    if entry is None or entry.school_code != school_code:
        return Refused(RULE_NOT_AT_SCHOOL, "the student is not registered at this school")
    if entry.in_transfer:
        return Refused(
            RULE_TRANSFER_IN_PROGRESS,
            "a transfer of this student is in progress: it ends before the student graduates",
        )
    try:
        check_transition(entry.status, CHANGE_OF[outcome])
    except StatusChangeRefused as refused:
        return Refused(refused.rule, f"{refused.reason} ({refused.article})")
    if outcome in NEEDS_LAST_GRADE and last_grade is not None and entry.grade != last_grade:
        return Refused(
            RULE_NOT_GRADUATING_GRADE,
            f"{outcome} certifies the stage was finished: the student is in grade "
            f"{entry.grade}, the school's last grade is {last_grade} ({ARTICLE})",
        )
    return None


def target_status(outcome: str) -> RegistryStatus:
    return check_transition(RegistryStatus.ENROLLED, CHANGE_OF[outcome]).target
