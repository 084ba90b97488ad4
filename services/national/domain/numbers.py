"""Student numbers (学籍号): ``G`` + resident ID, or a temporary ``L`` number.

N2013 art. 5: the number is generated from the resident ID, one per person, for life. The
national registry writes it ``G`` + the 18-character ID
(:func:`shared.resident_id.student_number_for`).

A student without a mainland resident ID (foreign, Hong Kong, Macao or Taiwan students,
N2025 art. 10; or a mainland child whose ID is not issued yet) gets a temporary number,
``L`` + division code (6) + birth date (8) + serial (3) + check character
(:func:`shared.resident_id.temporary_student_number`). The rule implemented here:

- the **division code** is the county the school belongs to (its federation entry). For a
  school under a county it is the first 6 digits of the school code; a province-direct
  school whose code carries the province's own code (``4100000001``: ``410000`` is not a
  division GB 11643 ever issues numbers under) uses the county it is located in;
- the **serial** is allocated by national, the only place that sees every school of a
  division, uniquely per (division code, birth date) — not per school — and never reused,
  even after the student's ``L`` number is replaced by a ``G`` number;
- its **parity encodes sex** as in a resident ID: males get odd serials 001, 003 ... 999,
  females even serials 002, 004 ... 998 (``000`` is never issued, as in IDs). Each new
  serial is the highest one issued so far for the key and sex, plus 2, so a key holds at most
  500 male and 499 female numbers; beyond that the applicant is refused with
  ``temporary_serials_exhausted`` (it would take ~1,000 same-day births without an ID in one
  county).

When a resident ID is recorded later, the entry keeps its identity and gets the ``G``
number; the ``L`` number stays findable and points to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.national.domain.identity import Person
from shared.resident_id import PERMANENT_PREFIX, Sex, temporary_student_number

RULE_SERIALS_EXHAUSTED = "temporary_serials_exhausted"

SerialKey = tuple[str, date]  # (division code, birth date)
ParityKey = tuple[str, date, int]  # (division code, birth date, serial % 2)

_FIRST = {1: 1, 0: 2}
_LAST = {1: 999, 0: 998}


def parity_of(sex: str) -> int:
    """1 (odd serials) for male, 0 (even serials) for female, as in GB 11643-1999."""
    return 1 if sex == "male" else 0


@dataclass
class TemporarySerials:
    """The ``L`` serials of one division while one decision is made (pure, in memory).

    ``highest`` holds the highest serial already issued per (division, birth date, parity),
    loaded for the whole batch in one query; :meth:`take` hands out the next ones.
    """

    division: str
    highest: dict[ParityKey, int] = field(default_factory=dict)

    def take(self, birth_date: date, sex: str) -> int | None:
        """The next serial for (birth date, sex), or ``None`` when that namespace is full."""
        parity = parity_of(sex)
        key = (self.division, birth_date, parity)
        serial = self.highest[key] + 2 if key in self.highest else _FIRST[parity]
        if serial > _LAST[parity]:
            return None
        self.highest[key] = serial
        return serial


@dataclass(frozen=True)
class NewNumber:
    """A student number to issue, with the ``L`` serial it used (``None`` for ``G``)."""

    student_number: str
    serial: int | None = None


def new_number(person: Person, serials: TemporarySerials, today: date) -> NewNumber | None:
    """``G`` + resident ID, or the next ``L`` number; ``None`` if the serials are exhausted.

    ``person`` has passed :func:`services.national.domain.documents.document_problem`.
    """
    if person.has_resident_id and person.id_number is not None:
        return NewNumber(PERMANENT_PREFIX + person.id_number)  # already validated
    serial = serials.take(person.birth_date, person.gender)
    if serial is None:
        return None
    number = temporary_student_number(
        person.birth_date, _sex(person.gender), serials.division, serial, today=today
    )
    return NewNumber(number, serial)


def _sex(gender: str) -> Sex:
    return "male" if gender == "male" else "female"


def exhausted_reason(division: str) -> str:
    return f"no temporary student number left for this birth date in division {division}"
