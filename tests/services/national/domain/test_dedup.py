"""The dedup rules as pure functions: no database, no broker."""

from __future__ import annotations

import random
from datetime import date

import pytest

from services.national.domain.dedup import (
    RULE_DUPLICATE,
    RULE_PENDING_REVIEW,
    RULE_PROGRESSION_REQUIRED,
    RULE_SUSPECT,
    RULE_SUSPECT_WITHOUT_RESIDENT_ID,
    Applicant,
    Clear,
    Hold,
    RegistryView,
    Reject,
    screen,
)
from services.national.domain.documents import (
    RULE_INVALID_BIRTH_DATE,
    RULE_INVALID_RESIDENT_ID,
    RULE_MISSING_ID_NUMBER,
    RULE_RESIDENT_ID_MISMATCH,
)
from services.national.domain.identity import Person, Placement, Record, identity_key, name_key
from shared.resident_id import compute_check_char, generate_resident_id

TODAY = date(2024, 9, 10)
BORN = date(2018, 3, 14)
HERE = Placement("4101020001", "41")
THERE = Placement("3301020001", "33")
rng = random.Random(7)


def rid(gender: str = "male", born: date = BORN) -> str:
    return generate_resident_id(rng, "410102", born, "male" if gender == "male" else "female")


def person(
    name: str = "张伟",
    gender: str = "male",
    born: date = BORN,
    id_type: str = "resident_id",
    id_number: str | None = None,
) -> Person:
    if id_type == "resident_id" and id_number is None:
        id_number = rid(gender, born)
    return Person(name, gender, born, id_type, id_number)


def applicant(p: Person, entry_id: str = "new") -> Applicant:
    return Applicant(entry_id, p, HERE)


def registered(p: Person, entry_id: str = "old", placement: Placement = THERE) -> RegistryView:
    return RegistryView.of([Record(entry_id, p, placement)])


def test_nobody_like_them_is_clear() -> None:
    assert isinstance(screen(applicant(person()), RegistryView(), today=TODAY), Clear)


def test_same_document_already_registered_is_an_exact_duplicate_naming_only_the_place() -> None:
    existing = person(name="李娜", gender="female")
    verdict = screen(applicant(existing), registered(existing), today=TODAY)
    assert verdict == Reject(
        RULE_DUPLICATE, "already registered at school 3301020001 in province 33"
    )
    assert existing.id_number is not None
    assert "李娜" not in verdict.reason and existing.id_number not in verdict.reason


def test_a_graduate_is_sent_to_progression_not_counted_as_a_duplicate() -> None:
    existing = person()
    view = RegistryView.of([Record("old", existing, THERE, "graduated")])
    verdict = screen(applicant(existing), view, today=TODAY)
    assert isinstance(verdict, Reject) and verdict.rule == RULE_PROGRESSION_REQUIRED
    assert "LS 1(二)" in verdict.reason


def test_same_document_twice_in_a_batch_refuses_the_later_one() -> None:
    first = applicant(person(), "a")
    second = applicant(person(id_number=first.person.id_number), "b")
    verdict = screen(second, RegistryView(), {first.person.document: first}, today=TODAY)  # type: ignore[dict-item]
    assert isinstance(verdict, Reject) and verdict.rule == RULE_DUPLICATE
    assert "earlier in this batch" in verdict.reason and "4101020001" in verdict.reason


def test_document_waiting_for_review_is_refused() -> None:
    p = person(id_type="passport", id_number="E1234567")
    view = RegistryView.of([], [(("passport", "E1234567"), THERE)])
    verdict = screen(applicant(p), view, today=TODAY)
    assert isinstance(verdict, Reject) and verdict.rule == RULE_PENDING_REVIEW
    assert "school 3301020001 in province 33" in verdict.reason


def test_same_name_gender_birth_with_another_resident_id_is_held() -> None:
    existing = person()
    verdict = screen(applicant(person()), registered(existing), today=TODAY)
    assert isinstance(verdict, Hold)
    assert verdict.rule == RULE_SUSPECT and verdict.matched.entry_id == "old"
    assert "school 3301020001 in province 33" in verdict.reason


@pytest.mark.parametrize("id_type", ["passport", "hk_macao_permit", "taiwan_permit", "none"])
def test_applicant_without_resident_id_resembling_a_registered_student_is_held(
    id_type: str,
) -> None:
    number = None if id_type == "none" else "H0123456"
    verdict = screen(
        applicant(person(id_type=id_type, id_number=number)), registered(person()), today=TODAY
    )
    assert isinstance(verdict, Hold) and verdict.rule == RULE_SUSPECT_WITHOUT_RESIDENT_ID


def test_registered_student_without_document_resembling_an_applicant_with_an_id_is_held() -> None:
    view = registered(person(id_type="none", id_number=None))
    verdict = screen(applicant(person()), view, today=TODAY)
    assert isinstance(verdict, Hold) and verdict.rule == RULE_SUSPECT_WITHOUT_RESIDENT_ID


@pytest.mark.parametrize(
    "other",
    [
        {"name": "张伟伟"},
        {"gender": "female"},
        {"born": date(2018, 3, 15)},
    ],
)
def test_a_different_name_gender_or_birth_date_is_not_suspect(other: dict[str, object]) -> None:
    existing = person(**other)  # type: ignore[arg-type]
    assert isinstance(screen(applicant(person()), registered(existing), today=TODAY), Clear)


def test_names_compare_without_spaces_width_case_or_dot_variants() -> None:
    assert name_key("张 三") == name_key("张三")
    assert name_key("买买提·艾力") == name_key("买买提.艾力") == name_key("买买提•艾力")
    assert name_key("ＪＯＨＮ Smith") == name_key("john smith")
    assert identity_key("张 三", "male", BORN) == identity_key("张三", "male", BORN)


def test_the_exact_rule_wins_over_the_suspect_rule() -> None:
    existing = person()
    view = RegistryView.of([Record("old", existing, THERE), Record("other", person(), THERE)])
    verdict = screen(applicant(existing), view, today=TODAY)
    assert isinstance(verdict, Reject) and verdict.rule == RULE_DUPLICATE


@pytest.mark.parametrize(
    ("p", "rule"),
    [
        (
            Person("王芳", "female", BORN, "resident_id", "410102201803141234"),
            RULE_INVALID_RESIDENT_ID,
        ),
        (Person("王芳", "female", BORN, "passport", None), RULE_MISSING_ID_NUMBER),
        (Person("王芳", "female", date(2030, 1, 1), "none", None), RULE_INVALID_BIRTH_DATE),
    ],
)
def test_unusable_documents_are_refused(p: Person, rule: str) -> None:
    verdict = screen(applicant(p), RegistryView(), today=TODAY)
    assert isinstance(verdict, Reject) and verdict.rule == rule


def test_resident_id_must_agree_with_birth_date_and_gender() -> None:
    number = rid("male")
    wrong_gender = Person("王芳", "female", BORN, "resident_id", number)
    wrong_birth = Person("王芳", "male", date(2018, 3, 15), "resident_id", number)
    for p in (wrong_gender, wrong_birth):
        verdict = screen(applicant(p), RegistryView(), today=TODAY)
        assert isinstance(verdict, Reject) and verdict.rule == RULE_RESIDENT_ID_MISMATCH


def test_no_two_valid_resident_ids_are_one_typo_or_one_adjacent_swap_apart() -> None:
    """Why there is no "near resident ID" rule: MOD 11-2 makes such pairs impossible."""
    for _ in range(300):
        number = rid(rng.choice(["male", "female"]), date(2010 + rng.randrange(10), 5, 17))
        variants = [number[:i] + d + number[i + 1 :] for i in range(17) for d in "0123456789"]
        variants += [number[:i] + number[i + 1] + number[i] + number[i + 2 :] for i in range(16)]
        for variant in variants:
            if variant != number:
                assert compute_check_char(variant[:17]) != variant[17]
