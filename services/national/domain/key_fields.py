"""Key-field changes (关键信息变更): name, identity document, and the basic fields a province
lists as key fields — gender, birth date, nationality, ethnicity (ZJ art. 11; N2013 art. 10).

A change approved by the authority is re-checked nationally for duplicates (LS part 4)
against every *other* entry, with the same rules as a registration, and two decisions of
our own:

- **a suspect match refuses the change** (it is not held). The contract's answer is
  ``applied`` or ``rejected``; more to the point, an existing student whose new key fields
  make them look like another registered student is a duplicate-registration case (重复学籍)
  with two live records, which LS 2(三) resolves by the duplicate-admission procedure
  between the two schools — not by a reviewer editing one record. The refusal names the
  other record's province and school so the authorities can start that procedure.
- **the suspect rule runs only when the identity key changes** (name, gender or birth date;
  decision 0043). They were already screened (and a hold, if any, decided by a person) at
  registration; a change of document alone does not change them, so re-flagging would
  overturn a human decision.

A document change that records a resident ID moves the student to the ``G`` number of that
ID, on the same registry entry; a ``G`` number never goes back to an ``L`` number or to
another document type (``resident_id_required``): the number is for life (N2013 art. 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.national.domain.dedup import (
    RegistryView,
    Reject,
    already_registered,
    awaiting_review,
    suspect_match,
)
from services.national.domain.documents import document_problem, normalise_number
from services.national.domain.identity import Person
from shared.resident_id import PERMANENT_PREFIX

RULE_RESIDENT_ID_REQUIRED = "resident_id_required"


@dataclass(frozen=True)
class KeyChanges:
    """The requested new values; ``None`` keeps the current one."""

    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    gender: str | None = None
    birth_date: date | None = None


def changed_person(current: Person, changes: KeyChanges) -> Person:
    """``current`` with ``changes`` applied; a new type without a number drops the number."""
    id_type = changes.id_type or current.id_type
    if changes.id_number is not None:
        raw_number: str | None = changes.id_number
    elif id_type == current.id_type:
        raw_number = current.id_number
    else:
        raw_number = None
    return Person(
        name=changes.name or current.name,
        gender=changes.gender or current.gender,
        birth_date=changes.birth_date or current.birth_date,
        id_type=id_type,
        id_number=normalise_number(id_type, raw_number),
    )


def change_refusal(
    current: Person, new: Person, others: RegistryView, *, today: date
) -> Reject | None:
    """Why the change may not be applied (first rule that objects), or ``None``.

    ``others`` must not contain the student's own entry.
    """
    if current.has_resident_id and not new.has_resident_id:
        return Reject(
            RULE_RESIDENT_ID_REQUIRED,
            "a student number issued from a resident ID stays tied to a resident ID",
        )
    problem = document_problem(new, today)
    if problem is not None:
        return Reject(*problem)
    exact = already_registered(new, others) or awaiting_review(new, others)
    if exact is not None:
        return exact
    if new.identity == current.identity:
        return None
    held = suspect_match(new, others)
    return Reject(held.rule, held.reason) if held is not None else None


def number_after_change(current_number: str, new: Person) -> str:
    """The student number once ``new`` is recorded: ``G`` + the resident ID, if there is one."""
    if new.has_resident_id and new.id_number is not None:
        return PERMANENT_PREFIX + new.id_number
    return current_number
