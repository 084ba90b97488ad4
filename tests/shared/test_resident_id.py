"""GB 11643-1999 resident ID numbers and the G / L student number rule."""

from __future__ import annotations

import random
from datetime import date

import pytest

from shared.resident_id import (
    InvalidResidentId,
    InvalidStudentNumber,
    ResidentId,
    Sex,
    compute_check_char,
    generate_resident_id,
    is_temporary,
    student_number_for,
    temporary_student_number,
    upgrade_legacy_id,
    validate_resident_id,
    validate_student_number,
)

TODAY = date(2026, 11, 23)

# The example in GB 11643-1999 itself: Beijing Chaoyang, 1949-12-31, female, check X.
STANDARD_EXAMPLE = "11010519491231002X"
# Computed with compute_check_char for the units named in DOMAIN.md.
ZHENGZHOU_BOY = "410102201203051373"  # 郑州 中原区, 2012-03-05, sequence 137 (odd)
LIANGSHAN_GIRL = "513401201509018222"  # 凉山 西昌市, 2015-09-01, sequence 822 (even)
HANGZHOU_GIRL = "330106201002280669"  # 杭州 西湖区, 2010-02-28, sequence 066
BEIJING_GIRL_X = "11010520110714122X"  # check character X


def rule_of(value: str, *, allow_legacy: bool = False) -> str:
    with pytest.raises(InvalidResidentId) as caught:
        validate_resident_id(value, today=TODAY, allow_legacy=allow_legacy)
    return caught.value.rule


class TestCheckCharacter:
    def test_standard_example_gives_x(self) -> None:
        assert compute_check_char(STANDARD_EXAMPLE[:17]) == "X"

    @pytest.mark.parametrize("number", [ZHENGZHOU_BOY, LIANGSHAN_GIRL, HANGZHOU_GIRL])
    def test_known_numbers(self, number: str) -> None:
        assert compute_check_char(number[:17]) == number[17]

    def test_every_remainder_maps_to_its_character(self) -> None:
        seen = {compute_check_char(f"{n:017d}") for n in range(200)}
        assert seen == set("10X98765432")

    @pytest.mark.parametrize("bad", ["1234", "1101051949123100X", "११०१०५१९४९१२३१००२"])
    def test_rejects_anything_but_17_ascii_digits(self, bad: str) -> None:
        with pytest.raises(ValueError):
            compute_check_char(bad)


class TestValidNumbers:
    def test_parts_of_the_standard_example(self) -> None:
        assert validate_resident_id(STANDARD_EXAMPLE, today=TODAY) == ResidentId(
            number=STANDARD_EXAMPLE,
            division_code="110105",
            birth_date=date(1949, 12, 31),
            sequence="002",
            sex="female",
            check_char="X",
        )

    def test_odd_sequence_is_male(self) -> None:
        parsed = validate_resident_id(ZHENGZHOU_BOY, today=TODAY)
        assert (parsed.sex, parsed.sequence, parsed.birth_date) == (
            "male",
            "137",
            date(2012, 3, 5),
        )

    def test_even_sequence_is_female(self) -> None:
        assert validate_resident_id(LIANGSHAN_GIRL, today=TODAY).sex == "female"

    def test_lower_case_x_spaces_and_full_width_are_normalised(self) -> None:
        assert validate_resident_id(" 110105 19491231 002x ", today=TODAY).number == (
            STANDARD_EXAMPLE
        )
        assert validate_resident_id("１１０１０５２０１１０７１４１２２ｘ", today=TODAY).number == (
            BEIJING_GIRL_X
        )

    def test_prefecture_code_without_county_is_accepted(self) -> None:
        # Older numbers carry the prefecture's code (county digits 00).
        first17 = "410100" + "19850612" + "013"
        number = first17 + compute_check_char(first17)
        assert validate_resident_id(number, today=TODAY).division_code == "410100"

    @pytest.mark.parametrize("division", ["419001", "650100", "810000", "820000", "710000"])
    def test_structurally_valid_divisions(self, division: str) -> None:
        number = generate_resident_id(random.Random(1), division, date(2001, 1, 1), "male")
        assert validate_resident_id(number, today=TODAY).division_code == division

    def test_born_today_is_accepted(self) -> None:
        number = generate_resident_id(random.Random(2), "330106", TODAY, "female")
        assert validate_resident_id(number, today=TODAY).birth_date == TODAY


class TestEachRule:
    @pytest.mark.parametrize("value", ["", "1101051949123100", "11010519491231002X1"])
    def test_length(self, value: str) -> None:
        assert rule_of(value) == "length"

    @pytest.mark.parametrize(
        "value", ["1101051949123100A2", "11010519491231002Y", "1101O519491231002X"]
    )
    def test_charset(self, value: str) -> None:
        assert rule_of(value) == "charset"

    def test_non_ascii_digits_fail_charset(self) -> None:
        assert rule_of("११०१०५१९४९१२३१००२X") == "charset"

    @pytest.mark.parametrize(
        "division",
        [
            "990101",  # no province 99
            "160101",  # gap between 15 and 21
            "830000",  # Taiwan residence-permit code, not GB/T 2260
            "110001",  # prefecture 00 under a province
            "417101",  # prefecture 71-89 unassigned
            "419901",  # prefecture 99 unassigned
            "810100",  # Hong Kong has no subdivisions
        ],
    )
    def test_division_code(self, division: str) -> None:
        first17 = division + "20100101" + "001"
        assert rule_of(first17 + compute_check_char(first17)) == "division_code"

    @pytest.mark.parametrize(
        "birth",
        [
            "20100230",  # no 30 February
            "20111301",  # no month 13
            "20100000",
            "18991231",  # before 1900
            "20261124",  # the day after TODAY
        ],
    )
    def test_birth_date(self, birth: str) -> None:
        first17 = "330106" + birth + "002"
        assert rule_of(first17 + compute_check_char(first17)) == "birth_date"

    def test_29_february_in_a_leap_year_is_real(self) -> None:
        first17 = "330106" + "20120229" + "002"
        assert validate_resident_id(first17 + compute_check_char(first17), today=TODAY)

    def test_the_standards_1880_example_is_too_old_for_the_registry(self) -> None:
        # GB 11643-1999's other example, born 1880: a valid number, but before 1900.
        assert compute_check_char("44052418800101001") == "4"
        assert rule_of("440524188001010014") == "birth_date"

    def test_check_character_message_names_the_rule(self) -> None:
        with pytest.raises(InvalidResidentId) as caught:
            validate_resident_id(ZHENGZHOU_BOY[:17] + "4", today=TODAY)
        error = caught.value
        assert (error.rule, error.field) == ("check_character", "resident_id")
        assert error.message == "check character should be 3 (ISO 7064 MOD 11-2), got 4"

    def test_x_where_a_digit_is_due(self) -> None:
        assert rule_of(ZHENGZHOU_BOY[:17] + "X") == "check_character"

    def test_field_name_is_carried(self) -> None:
        with pytest.raises(InvalidResidentId) as caught:
            validate_resident_id("123", field="guardian_id")
        assert caught.value.field == "guardian_id"
        assert str(caught.value).startswith("guardian_id: ")

    def test_is_a_value_error(self) -> None:
        with pytest.raises(ValueError):
            validate_resident_id("123")

    def test_future_relative_to_the_real_today_by_default(self) -> None:
        future = date.today().replace(year=date.today().year + 1, month=1, day=1)
        first17 = "330106" + future.strftime("%Y%m%d") + "002"
        with pytest.raises(InvalidResidentId, match="in the future"):
            validate_resident_id(first17 + compute_check_char(first17))


class TestLegacyNumbers:
    def test_upgrade_inserts_19_and_appends_check(self) -> None:
        assert upgrade_legacy_id("110105491231002") == STANDARD_EXAMPLE

    def test_rejected_by_default_with_length_and_a_hint(self) -> None:
        with pytest.raises(InvalidResidentId) as caught:
            validate_resident_id("110105491231002", today=TODAY)
        assert caught.value.rule == "length"
        assert "converted" in caught.value.message

    def test_accepted_and_upgraded_when_allowed(self) -> None:
        parsed = validate_resident_id("110105 491231 002", allow_legacy=True, today=TODAY)
        assert parsed.number == STANDARD_EXAMPLE
        assert parsed.birth_date == date(1949, 12, 31)

    def test_legacy_numbers_have_no_check_character(self) -> None:
        assert rule_of("11010549123100X", allow_legacy=True) == "charset"

    def test_legacy_with_bad_date(self) -> None:
        assert rule_of("110105490231002", allow_legacy=True) == "birth_date"

    def test_upgrade_rejects_18_digits(self) -> None:
        with pytest.raises(InvalidResidentId) as caught:
            upgrade_legacy_id(STANDARD_EXAMPLE)
        assert caught.value.rule == "length"


class TestStudentNumbers:
    def test_permanent_number_is_g_plus_id(self) -> None:
        assert student_number_for(ZHENGZHOU_BOY) == "G" + ZHENGZHOU_BOY
        parsed = validate_resident_id(ZHENGZHOU_BOY, today=TODAY)
        assert student_number_for(parsed) == "G" + ZHENGZHOU_BOY

    def test_validate_permanent(self) -> None:
        parsed = validate_student_number("g" + BEIJING_GIRL_X.lower(), today=TODAY)
        assert (parsed.kind, parsed.resident_id, parsed.sex) == (
            "resident_id",
            BEIJING_GIRL_X,
            "female",
        )
        assert not is_temporary("G" + BEIJING_GIRL_X)

    def test_temporary_number_layout(self) -> None:
        number = temporary_student_number(date(2015, 6, 1), "male", "4101020001", 1, today=TODAY)
        assert number == "L" + "410102" + "20150601" + "001" + compute_check_char(
            "41010220150601001"
        )
        assert len(number) == 19
        assert is_temporary(number)

    def test_validate_temporary(self) -> None:
        number = temporary_student_number(date(2016, 2, 29), "female", "5134010007", 4)
        parsed = validate_student_number(number, today=TODAY)
        assert (parsed.kind, parsed.resident_id, parsed.division_code) == (
            "temporary",
            None,
            "513401",
        )
        assert (parsed.birth_date, parsed.sex, parsed.sequence) == (
            date(2016, 2, 29),
            "female",
            "004",
        )

    def test_temporary_number_is_self_checking(self) -> None:
        number = temporary_student_number(date(2015, 6, 1), "male", "4101020001", 1)
        tampered = number[:-2] + "3" + number[-1]
        with pytest.raises(InvalidStudentNumber) as caught:
            validate_student_number(tampered, today=TODAY)
        assert (caught.value.rule, caught.value.field) == ("check_character", "student_number")

    @pytest.mark.parametrize(("sex", "serial"), [("male", 2), ("female", 3)])
    def test_serial_parity_must_match_sex(self, sex: Sex, serial: int) -> None:
        with pytest.raises(ValueError, match="does not encode"):
            temporary_student_number(date(2015, 6, 1), sex, "4101020001", serial)

    @pytest.mark.parametrize("serial", [-1, 1000])
    def test_serial_range(self, serial: int) -> None:
        with pytest.raises(ValueError, match="0-999"):
            temporary_student_number(date(2015, 6, 1), "male", "4101020001", serial)

    @pytest.mark.parametrize("school_code", ["9901020001", "41A1", "41"])
    def test_school_code_must_start_with_a_division(self, school_code: str) -> None:
        with pytest.raises(InvalidStudentNumber) as caught:
            temporary_student_number(date(2015, 6, 1), "male", school_code, 1)
        assert (caught.value.field, caught.value.rule) == ("school_code", "division_code")

    def test_future_birth_date_is_blamed_on_birth_date(self) -> None:
        with pytest.raises(InvalidStudentNumber) as caught:
            temporary_student_number(date(2027, 1, 1), "male", "4101020001", 1, today=TODAY)
        assert (caught.value.field, caught.value.rule) == ("birth_date", "birth_date")

    @pytest.mark.parametrize(
        ("value", "rule"),
        [
            ("G" + ZHENGZHOU_BOY[:-1], "length"),
            (ZHENGZHOU_BOY, "length"),
            ("T" + ZHENGZHOU_BOY, "prefix"),
            ("G" + ZHENGZHOU_BOY[:-1] + "4", "check_character"),
            ("G9" + ZHENGZHOU_BOY[1:], "division_code"),
        ],
    )
    def test_invalid_student_numbers(self, value: str, rule: str) -> None:
        with pytest.raises(InvalidStudentNumber) as caught:
            validate_student_number(value, today=TODAY)
        assert caught.value.rule == rule

    def test_is_temporary_rejects_invalid(self) -> None:
        with pytest.raises(InvalidStudentNumber):
            is_temporary("L123")


DIVISIONS = ["110105", "410102", "513401", "330106", "419001", "654301", "460100"]
SEXES: tuple[Sex, ...] = ("male", "female")


class TestRoundTrips:
    """Property-style: many random inputs from a seeded generator."""

    @staticmethod
    def cases(seed: int, count: int) -> list[tuple[str, date, Sex]]:
        rng = random.Random(seed)
        first, last = date(1900, 1, 1).toordinal(), TODAY.toordinal()
        return [
            (
                rng.choice(DIVISIONS),
                date.fromordinal(rng.randint(first, last)),
                rng.choice(SEXES),
            )
            for _ in range(count)
        ]

    def test_generated_ids_validate_to_their_inputs(self) -> None:
        rng = random.Random(20261123)
        for division, birth, sex in self.cases(1, 500):
            number = generate_resident_id(rng, division, birth, sex)
            parsed = validate_resident_id(number, today=TODAY)
            assert (parsed.division_code, parsed.birth_date, parsed.sex) == (division, birth, sex)
            assert validate_student_number(student_number_for(parsed), today=TODAY).kind == (
                "resident_id"
            )

    def test_any_single_digit_change_is_caught(self) -> None:
        rng = random.Random(7)
        for division, birth, sex in self.cases(2, 100):
            number = generate_resident_id(rng, division, birth, sex)
            position = rng.randrange(17)
            digit = str((int(number[position]) + rng.randint(1, 9)) % 10)
            changed = number[:position] + digit + number[position + 1 :]
            with pytest.raises(InvalidResidentId):
                validate_resident_id(changed, today=TODAY)

    def test_legacy_upgrade_round_trip(self) -> None:
        rng = random.Random(3)
        for division, birth, sex in self.cases(3, 200):
            number = generate_resident_id(rng, division, birth, sex)
            if birth.year >= 2000:
                continue
            legacy = number[:6] + number[8:17]
            assert upgrade_legacy_id(legacy) == number

    def test_temporary_numbers_validate_to_their_inputs(self) -> None:
        rng = random.Random(4)
        for division, birth, sex in self.cases(4, 300):
            serial = rng.randrange(1 if sex == "male" else 0, 1000, 2)
            school_code = division + "0042"
            number = temporary_student_number(birth, sex, school_code, serial, today=TODAY)
            parsed = validate_student_number(number, today=TODAY)
            assert (parsed.kind, parsed.division_code, parsed.birth_date, parsed.sex) == (
                "temporary",
                division,
                birth,
                sex,
            )

    def test_generator_rejects_bad_division(self) -> None:
        with pytest.raises(ValueError):
            generate_resident_id(random.Random(1), "4101", date(2012, 3, 5), "male")
        with pytest.raises(InvalidResidentId):
            generate_resident_id(random.Random(1), "990101", date(2012, 3, 5), "male")
