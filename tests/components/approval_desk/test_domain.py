"""The authority's rules, without a database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from components.approval_desk.domain import (
    AlreadyDecided,
    Decision,
    DecisionKind,
    DecisionRefused,
    TaskKind,
    TaskStatus,
    check_batch,
    check_key_field_change,
    plan_decision,
)
from shared.contracts.students import BasicInfo, IdType
from tests.components.approval_desk import support

TODAY = date(2024, 9, 20)


def basic(**fields: Any) -> BasicInfo:
    """An applicant enrolled on 2024-09-01, before ``TODAY``."""
    return support.basic(**fields).model_copy(update={"enrolled_on": date(2024, 9, 1)})


def test_a_clean_batch_has_no_findings() -> None:
    applicants = {"a": basic(), "b": basic(gender="female"), "c": basic(grade=6)}
    assert check_batch(applicants, "primary", TODAY) == {}


def test_the_same_identity_twice_in_a_batch_is_flagged_on_both() -> None:
    twin = basic()
    findings = check_batch({"a": twin, "b": twin, "c": basic()}, "primary", TODAY)
    assert set(findings) == {"a", "b"}
    assert [f.rule for f in findings["a"]] == ["duplicate_in_batch"]


@pytest.mark.parametrize(
    ("applicant", "stage", "rule"),
    [
        (basic(grade=7), "primary", "grade_outside_stage"),
        (basic(grade=3), "junior", "grade_outside_stage"),
        (basic(id_number="410102201803010010"), "primary", "resident_id_check_character"),
        (basic(id_type=IdType.PASSPORT, id_number=None), "primary", "id_number_missing"),
        (basic(id_type=IdType.NONE, id_number="X1"), "primary", "id_number_unexpected"),
    ],
)
def test_findings(applicant: object, stage: str, rule: str) -> None:
    findings = check_batch({"a": applicant}, stage, TODAY)  # type: ignore[dict-item]
    assert rule in [f.rule for f in findings["a"]]


def test_resident_id_must_agree_with_birth_date_and_gender() -> None:
    person = basic(gender="male", birth=date(2018, 3, 1))
    wrong = person.model_copy(update={"birth_date": date(2018, 3, 2), "gender": "female"})
    rules = [f.rule for f in check_batch({"a": wrong}, "primary", TODAY)["a"]]
    assert rules == ["birth_date_mismatch", "gender_mismatch"]


def test_key_field_change_checks() -> None:
    assert check_key_field_change("新名", None, None, TODAY) == []
    assert [f.rule for f in check_key_field_change(None, None, None, TODAY)] == [
        "nothing_to_change"
    ]
    bad = check_key_field_change(None, "resident_id", "410102201803010010", TODAY)
    assert [f.rule for f in bad] == ["resident_id_check_character"]


def test_partial_rejection_plan() -> None:
    decision = Decision(DecisionKind.APPROVE, "officer", rejected_items={"b": "not enrolled"})
    plan = plan_decision(TaskKind.REGISTRATION_BATCH, TaskStatus.OPEN, ["a", "b", "c"], decision)
    assert plan.status is TaskStatus.APPROVED
    assert plan.approved == ("a", "c")
    assert plan.rejected == {"b": "not enrolled"}


@pytest.mark.parametrize(
    ("decision", "rule"),
    [
        (Decision(DecisionKind.REJECT, "officer"), "reason_required"),
        (Decision(DecisionKind.APPROVE, "o", rejected_items={"z": "?"}), "unknown_item"),
        (
            Decision(DecisionKind.APPROVE, "o", rejected_items={"a": "x", "b": "y"}),
            "every_item_rejected",
        ),
        (
            Decision(DecisionKind.REJECT, "o", reason="r", rejected_items={"a": "x"}),
            "rejected_items_with_reject",
        ),
    ],
)
def test_refused_decisions(decision: Decision, rule: str) -> None:
    with pytest.raises(DecisionRefused) as refused:
        plan_decision(TaskKind.REGISTRATION_BATCH, TaskStatus.OPEN, ["a", "b"], decision)
    assert refused.value.rule == rule


def test_a_decided_task_cannot_be_decided_again() -> None:
    with pytest.raises(AlreadyDecided):
        plan_decision(
            TaskKind.KEY_FIELD_CHANGE,
            TaskStatus.REJECTED,
            [],
            Decision(DecisionKind.APPROVE, "officer"),
        )
