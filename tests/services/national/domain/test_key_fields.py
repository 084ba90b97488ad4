"""Key-field change rules (pure)."""

from __future__ import annotations

from datetime import date

from services.national.domain.dedup import (
    RULE_DUPLICATE,
    RULE_SUSPECT_WITHOUT_RESIDENT_ID,
    RegistryView,
)
from services.national.domain.identity import Person, Placement, Record
from services.national.domain.key_fields import (
    RULE_RESIDENT_ID_REQUIRED,
    KeyChanges,
    change_refusal,
    changed_person,
    number_after_change,
)

BORN = date(2018, 3, 14)
TODAY = date(2024, 9, 10)
ID = "110105201803140028"  # female, born 2018-03-14
THERE = Placement("3301020001", "33")


def without_id(name: str = "王芳") -> Person:
    return Person(name, "female", BORN, "none", None)


def test_recording_a_resident_id_moves_the_student_to_the_g_number() -> None:
    new = changed_person(without_id(), KeyChanges(id_type="resident_id", id_number=ID.lower()))
    assert new.id_number == ID
    assert change_refusal(without_id(), new, RegistryView(), today=TODAY) is None
    assert number_after_change("L410102201803140025", new) == "G" + ID


def test_the_new_document_must_not_be_registered_to_someone_else() -> None:
    new = changed_person(without_id(), KeyChanges(id_type="resident_id", id_number=ID))
    other = RegistryView.of([Record("x", Person("李娜", "female", BORN, "resident_id", ID), THERE)])
    refusal = change_refusal(without_id(), new, other, today=TODAY)
    assert refusal is not None and refusal.rule == RULE_DUPLICATE
    assert refusal.reason == "already registered at school 3301020001 in province 33"


def test_a_new_name_resembling_another_student_is_refused_not_held() -> None:
    current = without_id("王小芳")
    other = RegistryView.of([Record("x", Person("王芳", "female", BORN, "passport", "P1"), THERE)])
    refusal = change_refusal(
        current, changed_person(current, KeyChanges(name="王芳")), other, today=TODAY
    )
    assert refusal is not None and refusal.rule == RULE_SUSPECT_WITHOUT_RESIDENT_ID


def test_a_document_change_alone_does_not_rerun_the_suspect_rule() -> None:
    current = without_id()
    other = RegistryView.of([Record("x", Person("王芳", "female", BORN, "passport", "P1"), THERE)])
    new = changed_person(current, KeyChanges(id_type="resident_id", id_number=ID))
    assert change_refusal(current, new, other, today=TODAY) is None


def test_a_g_number_never_goes_back_to_another_document_type() -> None:
    current = Person("王芳", "female", BORN, "resident_id", ID)
    new = changed_person(current, KeyChanges(id_type="passport", id_number="P1"))
    refusal = change_refusal(current, new, RegistryView(), today=TODAY)
    assert refusal is not None and refusal.rule == RULE_RESIDENT_ID_REQUIRED


def test_changing_the_name_keeps_the_document_and_the_number() -> None:
    current = Person("王芳", "female", BORN, "resident_id", ID)
    new = changed_person(current, KeyChanges(name="王芳芳"))
    assert (new.id_type, new.id_number) == ("resident_id", ID)
    assert number_after_change("G" + ID, new) == "G" + ID


def test_a_new_birth_date_or_gender_reruns_the_suspect_rule() -> None:
    """The identity key is name, gender and birth date (decision 0043): a change of any of
    them is screened against the other registrations."""
    other = RegistryView.of([Record("x", Person("王芳", "female", BORN, "passport", "P1"), THERE)])
    born_later = Person("王芳", "female", date(2018, 5, 1), "none", None)
    new = changed_person(born_later, KeyChanges(birth_date=BORN))
    assert new.birth_date == BORN
    refusal = change_refusal(born_later, new, other, today=TODAY)
    assert refusal is not None and refusal.rule == RULE_SUSPECT_WITHOUT_RESIDENT_ID
    as_boy = Person("王芳", "male", BORN, "none", None)
    new = changed_person(as_boy, KeyChanges(gender="female"))
    refusal = change_refusal(as_boy, new, other, today=TODAY)
    assert refusal is not None and refusal.rule == RULE_SUSPECT_WITHOUT_RESIDENT_ID
    elsewhere = changed_person(born_later, KeyChanges(birth_date=date(2018, 6, 1)))
    assert change_refusal(born_later, elsewhere, other, today=TODAY) is None
