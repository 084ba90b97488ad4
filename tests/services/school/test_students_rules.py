"""The registration rules of the school (pure domain, no database)."""

from __future__ import annotations

from datetime import date

import pytest

from services.school.domain.students import check_student, normalise_id_number
from tests.services.school.conftest import TODAY, basic, resident_id


def rules(**overrides: object) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in check_student(basic(**overrides), "primary", TODAY)]


def test_a_valid_student_passes() -> None:
    assert rules() == []


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("41010220180307001", "resident_id.length"),
        ("41010220180307001A", "resident_id.charset"),
        ("990102201803070017", "resident_id.division_code"),
        ("410102201802300011", "resident_id.birth_date"),
        ("410102201803070013", "resident_id.check_character"),
    ],
)
def test_each_resident_id_rule_is_named(number: str, rule: str) -> None:
    assert rules(id_number=number) == [("id_number", rule)]


def test_birth_date_and_gender_must_agree_with_the_id() -> None:
    number = resident_id(date(2018, 3, 7), "male")
    assert rules(id_number=number, birth_date=date(2018, 3, 8)) == [
        ("birth_date", "birth_date_mismatch")
    ]
    assert rules(id_number=number, gender="female") == [("gender", "gender_mismatch")]


def test_document_numbers_by_type() -> None:
    assert rules(id_type="passport", id_number=None) == [("id_number", "id_number_required")]
    assert rules(id_type="resident_id", id_number=None) == [("id_number", "id_number_required")]
    assert rules(id_type="passport", id_number="E12345678") == []
    assert rules(id_type="none", id_number=None) == []
    assert rules(id_type="none", id_number="E1") == [("id_number", "id_number_unexpected")]


def test_enrolment_not_in_the_future() -> None:
    assert rules(enrolled_on=date(2025, 3, 2)) == [("enrolled_on", "enrolled_on_future")]
    assert rules(enrolled_on=TODAY) == []


@pytest.mark.parametrize(
    ("stage", "good", "bad"),
    [("primary", 6, 7), ("junior", 7, 6), ("senior", 10, 9), ("nine_year", 9, 10)],
)
def test_grade_fits_the_stage(stage: str, good: int, bad: int) -> None:
    assert check_student(basic(grade=good), stage, TODAY) == []
    found = check_student(basic(grade=bad), stage, TODAY)
    assert [(v.field, v.rule) for v in found] == [("grade", "grade_stage")]


def test_special_schools_teach_every_grade() -> None:
    assert all(check_student(basic(grade=g), "special", TODAY) == [] for g in range(1, 13))


def test_document_numbers_have_one_spelling() -> None:
    assert normalise_id_number(" 41010２2018030700１x ") == "41010220180307001X"
    assert normalise_id_number("  ") is None
