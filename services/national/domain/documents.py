"""Is an applicant's identity document usable for a student number at all?

National is the last check before a lifelong number is derived from the document (N2013
art. 5, "一人一号，终身不变"), so it re-checks what the authority should already have checked:
a wrong resident ID would otherwise become a wrong student number forever.
"""

from __future__ import annotations

from datetime import date

from services.national.domain.identity import NO_DOCUMENT, RESIDENT_ID, Person
from shared.resident_id import EARLIEST_BIRTH_DATE, InvalidResidentId, normalise
from shared.resident_id import validate_resident_id as _validate_resident_id

RULE_INVALID_RESIDENT_ID = "invalid_resident_id"
RULE_RESIDENT_ID_MISMATCH = "resident_id_mismatch"
RULE_MISSING_ID_NUMBER = "missing_id_number"
RULE_INVALID_BIRTH_DATE = "invalid_birth_date"


def normalise_number(id_type: str, id_number: str | None) -> str | None:
    """The stored spelling of a document number (NFKC, no whitespace, upper case); ``None``
    for a student without a document, whose ``id_number`` is ignored."""
    if id_type == NO_DOCUMENT or id_number is None:
        return None
    return normalise(id_number) or None


def document_problem(person: Person, today: date) -> tuple[str, str] | None:
    """The first ``(rule, reason)`` that makes ``person``'s document unusable, or ``None``.

    - ``invalid_birth_date``: not a plausible date of birth (after today or before 1900);
    - ``missing_id_number``: a document type without its number;
    - ``invalid_resident_id``: breaks GB 11643-1999 (the reason names the rule broken);
    - ``resident_id_mismatch``: the birth date or sex encoded in the resident ID differs from
      the submitted birth date or gender, so the record contradicts its own number.

    The reasons speak only of the applicant's own data and go back to its own school.
    """
    if not EARLIEST_BIRTH_DATE <= person.birth_date <= today:
        return RULE_INVALID_BIRTH_DATE, "the birth date is in the future or before 1900"
    if person.id_type != NO_DOCUMENT and not person.id_number:
        return RULE_MISSING_ID_NUMBER, f"a document of type {person.id_type} needs its number"
    if person.id_type == RESIDENT_ID and person.id_number:
        return _resident_id_problem(person, today)
    return None


def _resident_id_problem(person: Person, today: date) -> tuple[str, str] | None:
    try:
        parsed = _validate_resident_id(person.id_number or "", today=today, field="id_number")
    except InvalidResidentId as error:
        return RULE_INVALID_RESIDENT_ID, f"the resident ID is not valid: {error.message}"
    if parsed.birth_date != person.birth_date:
        return RULE_RESIDENT_ID_MISMATCH, "the birth date differs from the one in the resident ID"
    if parsed.sex != person.gender:
        return RULE_RESIDENT_ID_MISMATCH, "the gender differs from the one in the resident ID"
    return None
