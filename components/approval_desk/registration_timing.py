"""When and at what age a registration comes: findings for the authority (学籍建立).

- N2013 art. 7 (HA art. 6, ZJ art. 8): the archive is built within 1 month of enrolment;
  a registration later than ``within_months`` after ``enrolled_on`` is ``registered_late``.
- LS 1(三): new students' data by September 30 (``new_student_data_by``); a first-year
  student of a stage (grade 1, 7 or 10) submitted after that day of the school year they
  enrolled in is ``new_student_data_late``.
- HA art. 4: first grade at 6 by August 31 (``first_grade_age``, ``age_cutoff``); a younger
  first-grader is ``under_age``: "未经主管教育行政部门批准，小学不得招收不足6周岁的儿童入学" —
  only the authority's approval, with a proof, admits the child. Where the province names the
  proof (``under_age_proof``), the school refuses the registration without it
  (:func:`check_under_age` is the one age check both use) and the task links it.

None of these refuses at the authority: a late registration is still a registration the
student needs, and an under-age child is the authority's call. Each is a finding on the
authority's task, so the batch waits for an officer (never approved automatically) and the
list shows it, naming the article. Standard library and ``shared.rules`` only.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Protocol

from components.approval_desk.domain import Finding
from shared.rules import RegistrationRules

RULE_REGISTERED_LATE = "registered_late"
RULE_NEW_STUDENT_DATA_LATE = "new_student_data_late"
RULE_UNDER_AGE = "under_age"
# The first grade of each stage (years of schooling): its students are new students.
FIRST_GRADES = frozenset({1, 7, 10})


class Enrolment(Protocol):
    @property
    def birth_date(self) -> date: ...
    @property
    def grade(self) -> int: ...
    @property
    def enrolled_on(self) -> date: ...


def check_timing(applicant: Enrolment, rules: RegistrationRules, today: date) -> list[Finding]:
    """Findings about when (and, for a first-grader, at what age) the student registers."""
    return [
        *_late(applicant, rules, today),
        *_new_student_data_late(applicant, rules, today),
        *check_under_age(applicant, rules),
    ]


def _late(applicant: Enrolment, rules: RegistrationRules, today: date) -> list[Finding]:
    if rules.within_months is None:
        return []
    due = add_months(applicant.enrolled_on, rules.within_months)
    if today <= due:
        return []
    article = rules.articles.get("within_months", "N2013 art. 7")
    return [
        Finding(
            RULE_REGISTERED_LATE,
            f"registered on {today.isoformat()}, after {due.isoformat()}: the archive is built "
            f"within {rules.within_months} month(s) of enrolment on "
            f"{applicant.enrolled_on.isoformat()} ({article}; N2013 art. 27)",
        )
    ]


def _new_student_data_late(
    applicant: Enrolment, rules: RegistrationRules, today: date
) -> list[Finding]:
    if rules.new_student_data_by is None or applicant.grade not in FIRST_GRADES:
        return []
    due = _in_school_year(rules.new_student_data_by, applicant.enrolled_on)
    if due < applicant.enrolled_on:  # enrolled after the day (spring): the next year's
        due = due.replace(year=due.year + 1)
    if today <= due:
        return []
    article = rules.articles.get("new_student_data_by", "LS 1(三)")
    return [
        Finding(
            RULE_NEW_STUDENT_DATA_LATE,
            f"new-student data submitted on {today.isoformat()}, after {due.isoformat()} "
            f"({article})",
        )
    ]


def check_under_age(applicant: Enrolment, rules: RegistrationRules) -> list[Finding]:
    """``under_age`` if ``applicant`` is a first-grader younger than the province's age on its
    cutoff day (HA art. 4); nothing where the province sets no age."""
    if rules.first_grade_age is None or applicant.grade != 1:
        return []
    cutoff = _in_school_year(rules.age_cutoff, applicant.enrolled_on, before_autumn=True)
    age = full_years(applicant.birth_date, cutoff)
    if age >= rules.first_grade_age:
        return []
    article = rules.articles.get("first_grade_age", "HA art. 4")
    return [
        Finding(
            RULE_UNDER_AGE,
            f"{age} years old on {cutoff.isoformat()}: first grade at {rules.first_grade_age} "
            f"by {rules.age_cutoff}; a younger child only with the authority's approval and a "
            f"proof ({article})",
        )
    ]


def _in_school_year(month_day: str, enrolled_on: date, *, before_autumn: bool = False) -> date:
    """``month_day`` in the year of the school year ``enrolled_on`` falls in (it starts in
    September); ``before_autumn``: the day before that school year began (an age cutoff)."""
    year = enrolled_on.year if enrolled_on.month >= 9 else enrolled_on.year - 1
    month, day = int(month_day[:2]), int(month_day[3:])
    if not before_autumn and month < 9:
        year += 1
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def full_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, on the month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
