"""Temporary L numbers: serial namespace, parity, exhaustion; G numbers."""

from __future__ import annotations

from datetime import date

from services.national.domain.identity import Person
from services.national.domain.numbers import TemporarySerials, new_number
from shared.resident_id import validate_student_number

BORN = date(2017, 6, 1)
TODAY = date(2024, 9, 10)


def no_id(gender: str) -> Person:
    return Person("Anna", gender, BORN, "passport", "P123")


def test_males_get_odd_serials_and_females_even_ones_from_the_highest_so_far() -> None:
    serials = TemporarySerials("410102", {("410102", BORN, 1): 7})
    assert [serials.take(BORN, "male") for _ in range(2)] == [9, 11]
    assert [serials.take(BORN, "female") for _ in range(2)] == [2, 4]


def test_a_full_namespace_is_refused_not_wrapped() -> None:
    serials = TemporarySerials("410102", {("410102", BORN, 1): 997, ("410102", BORN, 0): 998})
    assert serials.take(BORN, "male") == 999
    assert serials.take(BORN, "male") is None
    assert serials.take(BORN, "female") is None
    assert serials.take(date(2017, 6, 2), "female") == 2


def test_l_number_encodes_division_birth_date_and_sex() -> None:
    number = new_number(no_id("female"), TemporarySerials("410105"), TODAY)
    assert number is not None and number.serial == 2
    parsed = validate_student_number(number.student_number, today=TODAY)
    assert parsed.kind == "temporary" and number.student_number.startswith("L410105")
    assert (parsed.division_code, parsed.birth_date, parsed.sex) == ("410105", BORN, "female")


def test_resident_id_gives_the_g_number() -> None:
    person = Person("王芳", "female", date(2018, 3, 14), "resident_id", "110105201803140028")
    number = new_number(person, TemporarySerials("410102"), TODAY)
    assert number is not None and number.serial is None
    assert number.student_number == "G110105201803140028"
