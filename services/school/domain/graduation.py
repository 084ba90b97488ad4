"""The school's checks of its graduating list (毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一)).

Standard library only. The school checks its own roster before it sends the list; national
checks the registry again when the authority has approved it (the registry is the record).

- Dates (LS 3(一): "确保学生的毕业操作在每年 7 月 30 日之前完成"): a list names the year its
  class leaves; the list of the year whose July 30 has passed is refused
  (``graduation_deadline_passed``) unless the school says why it is late — the authority then
  sees the list flagged and decides (decision 0015). A year after the one now open is refused
  (``graduation_year_not_open``).
- Per student: on the roster (``not_on_roster``); not already graduated, completed or
  incomplete — final, never rolled back (``graduation_is_final``, LS 3(一) "毕业生不可以随意回
  退"); not transferred away (``student_transferred_out``); ``enrolled`` (``incomplete`` also
  from ``dropout``: ZJ art. 25, "未完成九年义务教育者") otherwise ``status_change_not_allowed``;
  ``graduated`` / ``completed`` only in the school's last grade (``not_graduating_grade``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

DEADLINE_MONTH, DEADLINE_DAY = 7, 30

RULE_DEADLINE = "graduation_deadline_passed"
RULE_YEAR_NOT_OPEN = "graduation_year_not_open"
RULE_NOT_ON_ROSTER = "not_on_roster"
RULE_FINAL = "graduation_is_final"
RULE_TRANSFERRED_OUT = "student_transferred_out"
RULE_NOT_ALLOWED = "status_change_not_allowed"
RULE_NOT_GRADUATING_GRADE = "not_graduating_grade"
RULE_PENDING = "graduation_pending"

FINAL_STATUSES = frozenset({"graduated", "completed", "incomplete"})
SOURCES: Mapping[str, frozenset[str]] = {
    "graduated": frozenset({"enrolled"}),
    "completed": frozenset({"enrolled"}),
    "incomplete": frozenset({"enrolled", "dropout"}),
}
LAST_GRADE: Mapping[str, int] = {"primary": 6, "junior": 9, "nine_year": 9, "senior": 12}


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str


def open_year(today: date) -> int:
    """The year whose class graduates next: this year until July 30, then the next one."""
    deadline = date(today.year, DEADLINE_MONTH, DEADLINE_DAY)
    return today.year if today <= deadline else today.year + 1


def deadline_refusal(graduation_year: int, today: date, late_reason: str | None) -> Refusal | None:
    """Whether a list for ``graduation_year`` may be sent today."""
    current = open_year(today)
    if graduation_year > current:
        return Refusal(
            RULE_YEAR_NOT_OPEN,
            f"the class of {graduation_year} cannot graduate yet: the open year is {current}",
        )
    if graduation_year < current and not (late_reason or "").strip():
        return Refusal(
            RULE_DEADLINE,
            f"graduation of the class of {graduation_year} closed on July 30, "
            f"{graduation_year} (LS 3(一)); give late_reason for the authority to decide",
        )
    return None


def student_refusal(
    outcome: str, status: str | None, grade: int | None, stage: str, pending: bool
) -> Refusal | None:
    """Why this student cannot be on the list with ``outcome``, or ``None``."""
    if status is None or grade is None:
        return Refusal(RULE_NOT_ON_ROSTER, "the student is not on this school's roster")
    if status in FINAL_STATUSES:
        return Refusal(
            RULE_FINAL,
            f"the student is already {status}: final for the stage, never rolled back "
            "(LS 3(一); ZJ arts. 24-26)",
        )
    if status == "transferred_out":
        return Refusal(RULE_TRANSFERRED_OUT, "the student transferred to another school")
    if status not in SOURCES[outcome]:
        return Refusal(
            RULE_NOT_ALLOWED,
            f"{outcome} applies to a student who is {' or '.join(sorted(SOURCES[outcome]))}; "
            f"this one is {status}",
        )
    last = LAST_GRADE.get(stage)
    if outcome != "incomplete" and last is not None and grade != last:
        return Refusal(
            RULE_NOT_GRADUATING_GRADE,
            f"{outcome} certifies the stage was finished (ZJ art. 25): the student is in "
            f"grade {grade}, the school's last grade is {last}",
        )
    if pending:
        return Refusal(RULE_PENDING, "the student is on a graduating list awaiting a decision")
    return None
