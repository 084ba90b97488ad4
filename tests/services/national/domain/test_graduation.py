"""National's graduation rules (ZJ arts. 24-26; LS 3(一)): each refusal names its rule."""

from __future__ import annotations

import pytest

from services.national.domain.graduation import Registered, graduation_refusal, target_status

SCHOOL = "4101020001"


def enrolled(grade: int = 6, **kw: object) -> Registered:
    values: dict[str, object] = {
        "school_code": SCHOOL,
        "grade": grade,
        "status": "enrolled",
        "in_transfer": False,
    }
    values.update(kw)
    return Registered(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", ["graduated", "completed", "incomplete"])
def test_an_enrolled_student_in_the_last_grade_may_leave_with_any_certificate(outcome: str) -> None:
    assert graduation_refusal(outcome, SCHOOL, 6, enrolled()) is None
    assert target_status(outcome).value == outcome


def test_a_student_of_another_school_or_unknown_is_refused() -> None:
    assert graduation_refusal("graduated", SCHOOL, 6, None).rule == "not_registered_at_school"  # type: ignore[union-attr]
    other = enrolled(school_code="4101020003")
    assert graduation_refusal("graduated", SCHOOL, 6, other).rule == "not_registered_at_school"  # type: ignore[union-attr]


def test_pending_transfer_blocks_graduation() -> None:
    refused = graduation_refusal("graduated", SCHOOL, 6, enrolled(in_transfer=True))
    assert refused is not None and refused.rule == "transfer_in_progress"


@pytest.mark.parametrize("status", ["graduated", "completed", "incomplete"])
def test_a_graduate_is_never_rolled_back(status: str) -> None:
    for outcome in ("graduated", "completed", "incomplete"):
        refused = graduation_refusal(outcome, SCHOOL, 6, enrolled(status=status))
        assert refused is not None and refused.rule == "graduation_is_final"
        assert "LS 3(一)" in refused.reason


def test_deceased_and_suspended_students_are_refused_by_the_state_machine() -> None:
    dead = graduation_refusal("graduated", SCHOOL, 6, enrolled(status="deceased"))
    assert dead is not None and dead.rule == "deceased_is_final"
    away = graduation_refusal("graduated", SCHOOL, 6, enrolled(status="suspended"))
    assert away is not None and away.rule == "status_change_not_allowed"


def test_graduated_and_completed_need_the_last_grade_incomplete_does_not() -> None:
    for outcome in ("graduated", "completed"):
        refused = graduation_refusal(outcome, SCHOOL, 6, enrolled(grade=4))
        assert refused is not None and refused.rule == "not_graduating_grade"
    assert graduation_refusal("incomplete", SCHOOL, 6, enrolled(grade=4)) is None
    # a dropout leaves incomplete (ZJ art. 25), never graduated
    assert graduation_refusal("incomplete", SCHOOL, 6, enrolled(status="dropout")) is None
    refused = graduation_refusal("graduated", SCHOOL, 6, enrolled(status="dropout"))
    assert refused is not None and refused.rule == "status_change_not_allowed"


def test_a_school_without_a_last_grade_graduates_any_grade() -> None:
    assert graduation_refusal("graduated", SCHOOL, None, enrolled(grade=3)) is None
