"""The school's graduation rules (ZJ arts. 24-26; LS 3(一)): dates and students, each refusal
with its rule."""

from __future__ import annotations

from datetime import date

import pytest

from services.school.domain.graduation import deadline_refusal, open_year, student_refusal


def test_the_open_year_turns_after_july_30() -> None:
    assert open_year(date(2026, 7, 30)) == 2026
    assert open_year(date(2026, 7, 31)) == 2027


def test_a_list_after_july_30_needs_a_late_reason() -> None:
    assert deadline_refusal(2026, date(2026, 7, 30), None) is None
    late = deadline_refusal(2026, date(2026, 8, 1), None)
    assert late is not None and late.rule == "graduation_deadline_passed"
    assert deadline_refusal(2026, date(2026, 8, 1), "  ") is not None
    assert deadline_refusal(2026, date(2026, 8, 1), "the resit was on July 28") is None


def test_a_year_not_yet_open_is_refused() -> None:
    refused = deadline_refusal(2028, date(2026, 9, 7), None)
    assert refused is not None and refused.rule == "graduation_year_not_open"
    assert deadline_refusal(2027, date(2026, 9, 7), None) is None


@pytest.mark.parametrize(
    ("outcome", "status", "grade", "pending", "rule"),
    [
        ("graduated", None, None, False, "not_on_roster"),
        ("graduated", "graduated", 6, False, "graduation_is_final"),
        ("incomplete", "completed", 6, False, "graduation_is_final"),
        ("graduated", "transferred_out", 6, False, "student_transferred_out"),
        ("graduated", "suspended", 6, False, "status_change_not_allowed"),
        ("graduated", "dropout", 6, False, "status_change_not_allowed"),
        ("completed", "enrolled", 5, False, "not_graduating_grade"),
        ("graduated", "enrolled", 6, True, "graduation_pending"),
    ],
)
def test_each_refused_student_names_the_rule(
    outcome: str, status: str | None, grade: int | None, pending: bool, rule: str
) -> None:
    refused = student_refusal(outcome, status, grade, "primary", pending)
    assert refused is not None and refused.rule == rule


def test_accepted_students() -> None:
    assert student_refusal("graduated", "enrolled", 6, "primary", False) is None
    assert student_refusal("completed", "enrolled", 9, "junior", False) is None
    assert student_refusal("incomplete", "enrolled", 3, "primary", False) is None
    assert student_refusal("incomplete", "dropout", 4, "primary", False) is None
    assert student_refusal("graduated", "enrolled", 4, "special", False) is None
