"""The rules a new registration must pass at the school (N2013 arts. 4-6; GB 11643-1999).

Pure functions over the fields of a student's basic info: the single form and every row of a
bulk admission file go through :func:`check_student`, so both refuse the same things with the
same rule names. ``shared.resident_id`` is the standard-library-only implementation of the
resident ID rules every tier shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal, Protocol

from shared.resident_id import InvalidResidentId, ResidentId, normalise, validate_resident_id

Stage = Literal["primary", "junior", "senior", "nine_year", "special"]

GRADES_BY_STAGE: dict[str, range] = {
    "primary": range(1, 7),
    "junior": range(7, 10),
    "senior": range(10, 13),
    "nine_year": range(1, 10),
    "special": range(1, 13),  # special-education schools teach every grade
}

RESIDENT_ID = "resident_id"
NO_DOCUMENT = "none"


class StudentStatus(StrEnum):
    """A student's current status on the roster (DOMAIN.md §5); registration makes ``enrolled``."""

    ENROLLED = "enrolled"  # 在读
    SUSPENDED = "suspended"  # 休学
    TRANSFERRED_OUT = "transferred_out"  # 转出
    PROGRESSED_OUT = "progressed_out"  # 升学转出: went on to the next stage's school
    DROPOUT = "dropout"  # 辍学
    SUSPECTED_DROPOUT = "suspected_dropout"  # 疑似辍学
    OTHER_DEPARTURE = "other_departure"  # 其他离校
    ABROAD = "abroad"  # 境外就读
    DECEASED = "deceased"  # 死亡注销
    GRADUATED = "graduated"  # 毕业
    COMPLETED = "completed"  # 结业
    INCOMPLETE = "incomplete"  # 肄业
    DEFERRED = "deferred"  # 缓学: registered, start deferred a school year
    WITHDRAWN = "withdrawn"  # 退学 (ZJ art. 17)
    DETAINED = "detained"  # 被采取刑事强制措施: registration kept (ZJ art. 13; HA art. 16)


# Statuses of a student who left for another school (decision 0043): off the live roster, in
# the school's history list; the school keeps only the province's read-only backup.
DEPARTED_STATUSES = (StudentStatus.TRANSFERRED_OUT, StudentStatus.PROGRESSED_OUT)

# Statuses in which a student still holds this school's registration (dedup counts them).
STUDENT_ACTIVE_STATUSES = (
    StudentStatus.ENROLLED,
    StudentStatus.SUSPENDED,
    StudentStatus.DROPOUT,
    StudentStatus.SUSPECTED_DROPOUT,
    StudentStatus.DEFERRED,
    StudentStatus.DETAINED,
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: the input field it is about, the rule's name and an English sentence."""

    field: str
    rule: str
    message: str


class StudentFacts(Protocol):
    """The fields of basic info the registration rules look at."""

    @property
    def gender(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def id_type(self) -> str: ...
    @property
    def id_number(self) -> str | None: ...
    @property
    def grade(self) -> int: ...
    @property
    def enrolled_on(self) -> date: ...


def normalise_id_number(value: str | None) -> str | None:
    """One spelling per document number: NFKC, no whitespace, upper case; blank is ``None``."""
    if value is None:
        return None
    number = normalise(value)
    return number or None


def check_student(facts: StudentFacts, stage: str, today: date) -> list[Violation]:
    """Every registration rule ``facts`` break at a school of ``stage`` (empty if none)."""
    return [
        *check_identity(facts, today),
        *check_dates(facts, today),
        *check_grade(facts.grade, stage),
    ]


def check_identity(facts: StudentFacts, today: date) -> list[Violation]:
    """The document number fits its type; a resident ID agrees with birth date and gender."""
    if facts.id_type == NO_DOCUMENT:
        if facts.id_number:
            return [_unexpected_number()]
        return []
    if not facts.id_number:
        return [Violation("id_number", "id_number_required", f"{facts.id_type} needs an id_number")]
    if facts.id_type != RESIDENT_ID:
        return []
    try:
        resident_id = validate_resident_id(facts.id_number, today=today, field="id_number")
    except InvalidResidentId as error:
        return [Violation("id_number", f"resident_id.{error.rule}", error.message)]
    return check_agrees_with_id(facts, resident_id)


def check_agrees_with_id(facts: StudentFacts, resident_id: ResidentId) -> list[Violation]:
    """Birth date and gender must be the ones encoded in the resident ID (GB 11643-1999)."""
    found: list[Violation] = []
    if facts.birth_date != resident_id.birth_date:
        found.append(
            Violation(
                "birth_date",
                "birth_date_mismatch",
                f"birth_date {facts.birth_date} does not match the resident ID, which encodes "
                f"{resident_id.birth_date}",
            )
        )
    if facts.gender != resident_id.sex:
        found.append(
            Violation(
                "gender",
                "gender_mismatch",
                f"gender {facts.gender} does not match the resident ID, whose sequence digit "
                f"encodes {resident_id.sex} (odd = male)",
            )
        )
    return found


def check_dates(facts: StudentFacts, today: date) -> list[Violation]:
    """Enrolment is not in the future and not before birth."""
    found: list[Violation] = []
    if facts.enrolled_on > today:
        found.append(
            Violation(
                "enrolled_on",
                "enrolled_on_future",
                f"enrolled_on {facts.enrolled_on} is in the future (today is {today})",
            )
        )
    if facts.birth_date > today:
        found.append(
            Violation(
                "birth_date", "birth_date_future", f"birth_date {facts.birth_date} is in the future"
            )
        )
    elif facts.enrolled_on < facts.birth_date:
        found.append(
            Violation("enrolled_on", "enrolled_before_birth", "enrolled_on is before birth_date")
        )
    return found


def check_grade(grade: int, stage: str) -> list[Violation]:
    """The grade is one the school's stage teaches."""
    grades = GRADES_BY_STAGE[stage]
    if grade in grades:
        return []
    return [
        Violation(
            "grade",
            "grade_stage",
            f"grade {grade} is not taught at a {stage} school (grades {grades[0]}-{grades[-1]})",
        )
    ]


def _unexpected_number() -> Violation:
    return Violation(
        "id_number",
        "id_number_unexpected",
        "id_type none means the student has no identity document; leave id_number empty",
    )
