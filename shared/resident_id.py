"""Resident identity numbers (居民身份证号码) and student numbers (学籍号).

Resident identity numbers follow GB 11643-1999 (公民身份号码): 18 characters,

    DDDDDD YYYYMMDD SSS C
    division  birth  seq check

- ``DDDDDD`` is the administrative division code (GB/T 2260) of the place the number was
  first issued.  There is no bundled GB/T 2260 list (it changes every year and numbers keep
  the code of the year they were issued), so the rule checked here is structural:

  1. digits 1-2 are a province-level code: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65,
     71 (Taiwan), 81 (Hong Kong), 82 (Macao);
  2. for 71, 81 and 82, which GB/T 2260 lists without subdivisions, digits 3-6 are ``0000``;
  3. otherwise digits 3-4 (prefecture) are 01-70 or 90: GB/T 2260 assigns 01-20 and 51-70
     to prefecture-level cities, 21-50 to prefectures, leagues and autonomous prefectures,
     and 90 to county-level units directly under the province.  ``00`` (the province itself)
     never issued a number and 71-89, 91-99 are unassigned;
  4. digits 5-6 (county) are any of 00-99.  ``00`` is allowed because older numbers carry
     the prefecture's code rather than a county's.

  83, the code used on Taiwan residents' residence permits (台湾居民居住证), is not a
  GB/T 2260 province code and is rejected; those students get a temporary ``L`` number.
- ``YYYYMMDD`` is the birth date: a real calendar date, not before 1900-01-01 and not after
  ``today`` (injectable, for tests and for re-checking stored data as of a date).
- ``SSS`` is the sequence; odd means male, even means female.
- ``C`` is the ISO 7064 MOD 11-2 check character over the first 17 digits, ``X`` for 10.

Input is normalised before checking: Unicode NFKC (full-width digits and ``Ｘ`` become ASCII),
all whitespace removed, lower-case ``x`` upper-cased.  Rules are checked in the order
length, charset, division code, birth date, check character; the first failure raises
:class:`InvalidResidentId` naming the rule.

15-digit numbers (GB 11643-1989, issued before 1999: 6 division + YYMMDD + 3 sequence, no
check character) are rejected by default with the rule ``length``: the registry stores the
18-digit form only, so that one person never has two spellings of one number (N2013 art. 5,
"一人一号"). ``validate_resident_id(..., allow_legacy=True)`` and :func:`upgrade_legacy_id`
convert them the way the public security organs did in 1999: insert ``19`` before the year
and append the check character.

Student numbers (N2013 art. 5: 以学生居民身份证号为基础生成，一人一号，终身不变):

- ``G`` + the 18-character resident ID number, for a student with a mainland resident ID;
- ``L`` + 17 digits + 1 check character, a temporary number for a student without one
  (foreign, Hong Kong, Macao or Taiwan students, N2025 art. 10; or an ID not issued yet).
  The 17 digits are the school's division code (the first 6 characters of the school code),
  the birth date ``YYYYMMDD`` and a 3-digit serial whose parity encodes sex as in an ID (odd
  = male); the check character is the same ISO 7064 MOD 11-2, so an ``L`` number is 19
  characters and self-checking like a ``G`` number.  The serial must be unique per
  (division code, birth date): whoever allocates it (the national registry) must allocate
  it in that namespace, not per school.

When a valid resident ID is later recorded for a student with an ``L`` number, the registry
replaces the number with the ``G`` number and keeps the same registry entry (one person, one
registration); this module only tells the two kinds apart (:func:`is_temporary`).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

Sex = Literal["male", "female"]
Rule = Literal["length", "charset", "division_code", "birth_date", "check_character", "prefix"]
StudentNumberKind = Literal["resident_id", "temporary"]

ID_LENGTH = 18
LEGACY_ID_LENGTH = 15
STUDENT_NUMBER_LENGTH = 19
PERMANENT_PREFIX = "G"
TEMPORARY_PREFIX = "L"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

PROVINCE_CODES = frozenset(
    [str(code) for code in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47))]
    + [str(code) for code in (*range(50, 55), *range(61, 66), 71, 81, 82)]
)
UNDIVIDED_REGION_CODES = frozenset({"71", "81", "82"})

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_DIGITS = frozenset("0123456789")


class InvalidResidentId(ValueError):
    """A resident ID number broke a GB 11643-1999 rule.

    ``field`` names the input field (for the API's error body), ``rule`` is one of
    ``length``, ``charset``, ``division_code``, ``birth_date``, ``check_character``, and
    ``message`` is an English sentence naming the rule.
    """

    def __init__(self, field: str, rule: Rule, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule
        self.message = message


class InvalidStudentNumber(InvalidResidentId):
    """A student number is malformed; ``rule`` may also be ``prefix`` (not ``G`` or ``L``)."""


@dataclass(frozen=True)
class ResidentId:
    """A valid 18-character resident ID number and its parts (GB 11643-1999)."""

    number: str
    division_code: str
    birth_date: date
    sequence: str
    sex: Sex
    check_char: str


@dataclass(frozen=True)
class StudentNumber:
    """A valid student number: ``G`` + resident ID, or a temporary ``L`` number."""

    number: str
    kind: StudentNumberKind
    division_code: str
    birth_date: date
    sequence: str
    sex: Sex
    check_char: str

    @property
    def resident_id(self) -> str | None:
        """The resident ID number inside a ``G`` number; ``None`` for an ``L`` number."""
        return self.number[1:] if self.kind == "resident_id" else None


def compute_check_char(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for 17 digits (GB 11643-1999)."""
    if len(first17) != ID_LENGTH - 1 or not _only_digits(first17):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate_resident_id(
    value: str,
    *,
    allow_legacy: bool = False,
    today: date | None = None,
    field: str = "resident_id",
) -> ResidentId:
    """Check a resident ID number against GB 11643-1999 and return its parts.

    With ``allow_legacy=True`` a 15-digit pre-1999 number is accepted and returned upgraded
    to 18 digits (see :func:`upgrade_legacy_id`); otherwise it fails the ``length`` rule.
    Raises :class:`InvalidResidentId` naming the first rule broken.
    """
    number = normalise(value)
    if len(number) == LEGACY_ID_LENGTH and allow_legacy:
        number = _upgrade(number, field)
    _check_id_length(number, field)
    return _parse(number, field, today or date.today())


def upgrade_legacy_id(value: str) -> str:
    """Convert a 15-digit GB 11643-1989 number to the 18-digit GB 11643-1999 form.

    Inserts ``19`` before the 2-digit birth year and appends the MOD 11-2 check character;
    the result is then checked like any 18-digit number.
    """
    upgraded = _upgrade(normalise(value), "resident_id")
    return _parse(upgraded, "resident_id", date.today()).number


def generate_resident_id(rng: random.Random, division_code: str, birth_date: date, sex: Sex) -> str:
    """Make a valid resident ID number with a random sequence of the right parity.

    For tests and benchmarks.  The division code and birth date must pass the structural
    rules (a birth date after today is allowed here).
    """
    first = 1 if sex == "male" else 2
    sequence = f"{rng.randrange(first, 1000, 2):03d}"
    first17 = normalise(division_code) + _yyyymmdd(birth_date) + sequence
    if len(first17) != ID_LENGTH - 1 or not _only_digits(first17):
        raise ValueError(f"division code must be 6 digits, got {division_code!r}")
    number = first17 + compute_check_char(first17)
    return _parse(number, "resident_id", max(birth_date, date.today())).number


def student_number_for(resident_id: ResidentId | str) -> str:
    """Return the permanent student number ``G`` + the 18-character ID (N2013 art. 5)."""
    if isinstance(resident_id, str):
        resident_id = validate_resident_id(resident_id)
    return PERMANENT_PREFIX + resident_id.number


def temporary_student_number(
    birth_date: date,
    sex: Sex,
    school_code: str,
    serial: int,
    *,
    today: date | None = None,
) -> str:
    """Return the temporary ``L`` student number for a student without a mainland ID.

    ``serial`` is the 3-digit serial itself (0-999), allocated uniquely per (school
    division code, birth date); its parity must match ``sex`` (odd = male, as in
    GB 11643-1999).  Raises ``ValueError`` for a bad serial and
    :class:`InvalidStudentNumber` (field ``school_code`` or ``birth_date``) otherwise.
    """
    _check_serial(serial, sex)
    division_code = normalise(school_code)[:6]
    if len(division_code) != 6 or not _only_digits(division_code):
        raise InvalidStudentNumber(
            "school_code",
            "division_code",
            f"a school code starts with a 6-digit division code, got {school_code!r}",
        )
    first17 = division_code + _yyyymmdd(birth_date) + f"{serial:03d}"
    number = TEMPORARY_PREFIX + first17 + compute_check_char(first17)
    try:
        return validate_student_number(number, today=today).number
    except InvalidResidentId as error:
        blamed = "birth_date" if error.rule == "birth_date" else "school_code"
        raise InvalidStudentNumber(blamed, error.rule, error.message) from error


def validate_student_number(value: str, *, today: date | None = None) -> StudentNumber:
    """Check a ``G`` or ``L`` student number and say which kind it is.

    Both kinds carry 18 characters after the prefix, checked with the same rules as a
    resident ID (division code, birth date, MOD 11-2 check character).
    """
    number = normalise(value)
    field = "student_number"
    if len(number) != STUDENT_NUMBER_LENGTH:
        raise InvalidStudentNumber(
            field, "length", f"a student number is 19 characters (G or L + 18), got {len(number)}"
        )
    if number[0] not in (PERMANENT_PREFIX, TEMPORARY_PREFIX):
        raise InvalidStudentNumber(
            field, "prefix", f"a student number starts with G or L, got {number[0]!r}"
        )
    return _as_student_number(number, field, today or date.today())


def is_temporary(student_number: str) -> bool:
    """True for a valid temporary ``L`` number, False for a ``G`` number; raises if invalid."""
    return validate_student_number(student_number).kind == "temporary"


def normalise(value: str) -> str:
    """NFKC-normalise, drop all whitespace and upper-case (``x`` → ``X``, ``g`` → ``G``)."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def _as_student_number(number: str, field: str, today: date) -> StudentNumber:
    try:
        parts = _parse(number[1:], field, today)
    except InvalidResidentId as error:
        raise InvalidStudentNumber(error.field, error.rule, error.message) from error
    kind: StudentNumberKind = "temporary" if number[0] == TEMPORARY_PREFIX else "resident_id"
    return StudentNumber(
        number=number,
        kind=kind,
        division_code=parts.division_code,
        birth_date=parts.birth_date,
        sequence=parts.sequence,
        sex=parts.sex,
        check_char=parts.check_char,
    )


def _parse(number: str, field: str, today: date) -> ResidentId:
    """Check the charset, division code, birth date and check character of 18 characters."""
    _check_charset(number, field)
    _check_division_code(number[:6], field)
    birth_date = _check_birth_date(number[6:14], field, today)
    _check_check_char(number, field)
    sequence = number[14:17]
    return ResidentId(
        number=number,
        division_code=number[:6],
        birth_date=birth_date,
        sequence=sequence,
        sex="male" if int(sequence) % 2 else "female",
        check_char=number[17],
    )


def _upgrade(number: str, field: str) -> str:
    if len(number) != LEGACY_ID_LENGTH:
        raise InvalidResidentId(
            field, "length", f"a legacy resident ID number is 15 digits, got {len(number)}"
        )
    if not _only_digits(number):
        raise InvalidResidentId(field, "charset", "a legacy resident ID number is all digits")
    first17 = number[:6] + "19" + number[6:]
    return first17 + compute_check_char(first17)


def _check_id_length(number: str, field: str) -> None:
    if len(number) == LEGACY_ID_LENGTH:
        raise InvalidResidentId(
            field,
            "length",
            "15-digit resident ID numbers (GB 11643-1989, before 1999) must be converted to "
            "the 18-digit form (GB 11643-1999) first",
        )
    if len(number) != ID_LENGTH:
        raise InvalidResidentId(
            field, "length", f"a resident ID number is 18 characters, got {len(number)}"
        )


def _check_charset(number: str, field: str) -> None:
    if not _only_digits(number[:17]) or number[17] not in _DIGITS | {"X"}:
        raise InvalidResidentId(
            field,
            "charset",
            "a resident ID number is 17 digits followed by a digit or X (GB 11643-1999)",
        )


def _check_division_code(code: str, field: str) -> None:
    problem = _division_code_problem(code)
    if problem:
        raise InvalidResidentId(
            field, "division_code", f"division code {code} is not valid (GB/T 2260): {problem}"
        )


def _division_code_problem(code: str) -> str | None:
    province, prefecture, county = code[:2], code[2:4], code[4:]
    if province not in PROVINCE_CODES:
        return f"{province} is not a province-level code"
    if province in UNDIVIDED_REGION_CODES:
        return None if prefecture + county == "0000" else f"{province} has no subdivisions"
    if not ("01" <= prefecture <= "70" or prefecture == "90"):
        return f"prefecture digits {prefecture} are not 01-70 or 90"
    return None


def _check_birth_date(text: str, field: str, today: date) -> date:
    try:
        birth_date = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise InvalidResidentId(
            field, "birth_date", f"birth date {text} is not a real calendar date"
        ) from None
    if birth_date < EARLIEST_BIRTH_DATE:
        raise InvalidResidentId(
            field, "birth_date", f"birth date {birth_date} is before {EARLIEST_BIRTH_DATE}"
        )
    if birth_date > today:
        raise InvalidResidentId(
            field, "birth_date", f"birth date {birth_date} is in the future (today is {today})"
        )
    return birth_date


def _check_check_char(number: str, field: str) -> None:
    expected = compute_check_char(number[:17])
    if number[17] != expected:
        raise InvalidResidentId(
            field,
            "check_character",
            f"check character should be {expected} (ISO 7064 MOD 11-2), got {number[17]}",
        )


def _check_serial(serial: int, sex: Sex) -> None:
    if not 0 <= serial <= 999:
        raise ValueError(f"serial must be 0-999, got {serial}")
    if (serial % 2 == 1) != (sex == "male"):
        parity = "odd" if serial % 2 else "even"
        raise ValueError(f"serial {serial} is {parity}, which does not encode {sex}")


def _yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _only_digits(text: str) -> bool:
    return set(text) <= _DIGITS
