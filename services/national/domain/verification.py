"""Term re-verification (学籍核查, N2013 art. 24; N2025 art. 25): the school's confirmed roster
against the registry, and the students who left a school and were not picked up by another.
Standard library only.

- **ghost** (空挂学籍): enrolled at the school in the registry, not among the students the
  school confirms are attending;
- **mismatch** (人籍分离): confirmed as attending but the registry disagrees — no registration
  under that number (``unknown_number``), registered at another school
  (``registered_elsewhere``), not enrolled (``status_differs``) or in another grade
  (``grade_differs``).

A **placement** (N2013 art. 17; HA art. 12; ZJ art. 13: special education, inclusive
placement, reform school) keeps the registration at one school while the student attends
another: the registered school does not count them as a ghost, the attending school not as
``registered_elsewhere`` (their status and grade are still compared).

Unclaimed: a student whose registration left the school's roll — dropout, suspected dropout,
other departure (N2013 art. 22; LS 2(四)) — and whom no school has taken back within N days
(the province's ``[verification] unclaimed_after_days``) is on the county's unclaimed list,
for the county to follow up (控辍保学). A transfer never leaves a student unclaimed: the
registry switches schools in the transaction that completes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

LEFT_STATUSES = ("dropout", "suspected_dropout", "other_departure")
ATTENDING = "enrolled"


@dataclass(frozen=True)
class Finding:
    student_number: str
    kind: str
    detail: str


@dataclass(frozen=True)
class Registered:
    school_code: str
    grade: int
    status: str


def compare(
    school_code: str,
    enrolled_here: Iterable[str],
    confirmed: Mapping[str, int],
    registry: Mapping[str, Registered],
    *,
    placed_away: Iterable[str] = (),
    placed_here: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Ghosts first (by number), then mismatches (by number). ``placed_away``: students
    registered here who attend another school under a placement; ``placed_here``: students
    attending here under a placement, with the school that keeps their registration."""
    ghosts = sorted(set(enrolled_here) - set(confirmed) - set(placed_away))
    placed = placed_here or {}
    found = [
        Finding(n, "ghost", f"enrolled at {school_code} in the registry; not attending")
        for n in ghosts
    ]
    for number in sorted(confirmed):
        entry = registry.get(number)
        registered_at = placed.get(number)
        here = school_code if entry is None or registered_at != entry.school_code else registered_at
        mismatch = _mismatch(here, confirmed[number], entry)
        if mismatch is not None:
            found.append(Finding(number, *mismatch))
    return found


def _mismatch(school_code: str, grade: int, entry: Registered | None) -> tuple[str, str] | None:
    if entry is None:
        return "unknown_number", "attending, but no registration has this student number"
    if entry.school_code != school_code:
        return "registered_elsewhere", f"attending here, registered at {entry.school_code}"
    if entry.status != ATTENDING:
        return "status_differs", f"attending here, {entry.status} in the registry"
    if entry.grade != grade:
        return "grade_differs", f"grade {grade} on the roster, grade {entry.grade} in the registry"
    return None


def unclaimed_before(as_of: date, days: int) -> date:
    """Students who left on or before this day and are still unclaimed are listed."""
    return as_of - timedelta(days=days)
