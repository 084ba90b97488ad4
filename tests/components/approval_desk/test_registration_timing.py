"""When and at what age a registration comes (N2013 art. 7; LS 1(三); HA art. 4): the
findings, read with the repository's own province rules (the authority's task that waits for
an officer: ``test_tasks.py``)."""

from __future__ import annotations

from datetime import date

from components.approval_desk.registration_timing import add_months, check_timing
from devtools.testing import REPO_CONFIG
from shared.contracts.students import BasicInfo
from shared.rules import RegistrationRules, load_province_rules
from tests.components.approval_desk import support


def rules(province: str) -> RegistrationRules:
    return load_province_rules(REPO_CONFIG, province).registration


def applicant(enrolled_on: date, *, grade: int = 1, birth: date = date(2019, 5, 1)) -> BasicInfo:
    return support.basic(grade=grade, birth=birth).model_copy(update={"enrolled_on": enrolled_on})


def rules_of(findings: list[object]) -> list[str]:
    return [f.rule for f in findings]


def test_within_a_month_of_enrolment_or_flagged_with_the_province_s_article() -> None:
    on_time = applicant(date(2025, 9, 1))
    assert check_timing(on_time, rules("41"), date(2025, 10, 1)) == []
    [late] = check_timing(on_time, rules("41"), date(2025, 10, 2))
    assert late.rule == "registered_late" and "HA art. 6" in late.message
    [late] = check_timing(on_time, rules("33"), date(2025, 10, 2))
    assert "ZJ art. 8" in late.message
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)


def test_liangshan_new_student_data_by_september_30() -> None:
    ls = rules("5134010001")
    autumn = applicant(date(2025, 9, 1), birth=date(2019, 3, 1))
    assert "new_student_data_late" not in rules_of(check_timing(autumn, ls, date(2025, 9, 30)))
    found = check_timing(autumn, ls, date(2025, 10, 1))
    assert "new_student_data_late" in rules_of(found)
    assert any("LS 1(三)" in f.message for f in found)
    # a grade-3 student is no new student; Henan has no such day
    assert "new_student_data_late" not in rules_of(
        check_timing(applicant(date(2025, 9, 1), grade=3), ls, date(2025, 9, 20))
    )
    assert check_timing(autumn, rules("41"), date(2025, 9, 20)) == []


def test_henan_first_grade_at_six_by_august_31() -> None:
    ha = rules("41")
    six_on_the_day = applicant(date(2025, 9, 1), birth=date(2019, 8, 31))
    assert check_timing(six_on_the_day, ha, date(2025, 9, 2)) == []
    [young] = check_timing(
        applicant(date(2025, 9, 1), birth=date(2019, 9, 1)), ha, date(2025, 9, 2)
    )
    assert young.rule == "under_age" and "HA art. 4" in young.message
    assert young.message.startswith("5 years old on 2025-08-31")
    # a spring enrolment counts against the cutoff before the school year began
    spring = applicant(date(2026, 3, 1), birth=date(2019, 9, 1))
    assert rules_of(check_timing(spring, ha, date(2026, 3, 2))) == ["under_age"]
    # Zhejiang and Sichuan set no age; grade 2 is no first-grader
    assert (
        check_timing(
            applicant(date(2025, 9, 1), birth=date(2020, 1, 1)), rules("33"), date(2025, 9, 2)
        )
        == []
    )
    assert (
        check_timing(
            applicant(date(2025, 9, 1), grade=2, birth=date(2019, 9, 1)), ha, date(2025, 9, 2)
        )
        == []
    )
