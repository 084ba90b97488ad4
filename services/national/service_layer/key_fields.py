"""Use case: an authority approved a key-field change (关键信息变更: name, identity document,
gender, birth date, nationality, ethnicity);
national re-checks it for duplicates and applies it (N2013 art. 10; ZJ art. 11; LS part 4).

The rules are in :mod:`services.national.domain.key_fields`. Recording a resident ID for a
student with an ``L`` number gives them ``G`` + that ID on the same registry entry; the ``L``
number stays findable and points to the new one. School and province get one
``key_field_change.decided`` each.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from services.national.adapters.orm import RegistryEntry
from services.national.adapters.repository import NationalRepository, person_of
from services.national.domain.key_fields import (
    KeyChanges,
    change_refusal,
    changed_person,
    number_after_change,
)
from services.national.service_layer.change_log import (
    KEY_FIELD_CHANGE,
    decider_or_unit,
    entries_in,
    log_changes,
)
from services.national.service_layer.ports import (
    DECIDED_BY,
    load_view,
    tell_school_and_province,
)
from shared.contracts.registration import KeyFieldChangeApproved, KeyFieldChangeDecided
from shared.messaging.emit import Emit
from shared.resident_id import normalise

RULE_UNKNOWN_STUDENT = "unknown_student_number"
RULE_OTHER_SCHOOL = "not_registered_at_school"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    rule: str | None = None
    reason: str | None = None
    new_student_number: str | None = None


async def decide_key_field_change(
    repo: NationalRepository, emit: Emit, change: KeyFieldChangeApproved, now: datetime
) -> KeyFieldChangeDecided:
    """Re-run dedup on the new key fields, apply them if clear, tell school and province."""
    entry = await find_entry(repo, change.student_number)
    verdict = await _verdict(repo, entry, change, now)
    decider = decider_or_unit(change.approver, change.authority)
    if entry is not None and verdict.outcome == "applied":
        await log_changes(
            repo.session,
            kind=KEY_FIELD_CHANGE,
            subject_id=str(change.change_id),
            decider=decider,
            at=now,
            where=entries_in([entry.entry_id]),
        )
    decided = KeyFieldChangeDecided(
        change_id=change.change_id,
        school_code=change.school_code,
        student_number=change.student_number,
        outcome="applied" if verdict.outcome == "applied" else "rejected",
        new_student_number=verdict.new_student_number,
        changes=change.changes,
        reason=verdict.reason,
        rule=verdict.rule,
        decided_by=DECIDED_BY,
        decider=decider,
        proofs=change.proofs,  # references only: the files stay at the school
    )
    await tell_school_and_province(emit, decided, change.school_code)
    return decided


async def find_entry(repo: NationalRepository, student_number: str) -> RegistryEntry | None:
    """The entry a student number names, also by a number it has since replaced."""
    number = normalise(student_number)
    return await repo.entry_by_number(number) or await repo.superseding_entry(number)


async def find_entries(
    repo: NationalRepository, student_numbers: Collection[str]
) -> dict[str, RegistryEntry]:
    """:func:`find_entry` for many numbers, in one statement; by the number as given."""
    numbers = {given: normalise(given) for given in student_numbers}
    found = await repo.entries_by_number(set(numbers.values()))
    return {given: found[number] for given, number in numbers.items() if number in found}


async def _verdict(
    repo: NationalRepository,
    entry: RegistryEntry | None,
    change: KeyFieldChangeApproved,
    now: datetime,
) -> Verdict:
    if entry is None:
        return Verdict("rejected", RULE_UNKNOWN_STUDENT, "no registration has this student number")
    if entry.school_code != change.school_code:
        return Verdict(
            "rejected", RULE_OTHER_SCHOOL, "the student is not registered at this school"
        )
    current = person_of(entry)
    requested = change.changes
    new = changed_person(
        current,
        KeyChanges(
            name=requested.name,
            id_type=requested.id_type.value if requested.id_type is not None else None,
            id_number=requested.id_number,
            gender=requested.gender,
            birth_date=requested.birth_date,
        ),
    )
    others = await load_view(repo, [new], excluding=entry.entry_id)
    refusal = change_refusal(current, new, others, today=now.date())
    if refusal is not None:
        return Verdict("rejected", refusal.rule, refusal.reason)
    number = number_after_change(entry.student_number, new)
    old_number = entry.student_number
    others_changed = {
        name: value
        for name in ("nationality", "ethnicity")
        if (value := getattr(requested, name)) is not None
    }
    await repo.change_identity(entry, new, new.identity, number, now, others_changed)
    return Verdict("applied", new_student_number=number if number != old_number else None)
