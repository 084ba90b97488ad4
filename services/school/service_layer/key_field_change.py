"""Key-field change (关键信息变更, N2013 art. 10; ZJ art. 11; LS part 4): name, identity
document and the basic fields the province lists (gender, birth date, nationality, ethnicity).

The guardian applies with proof (hukou proof, …); the school checks the request and sends it
with the proof documents to its authority (``KeyFieldChangeSubmitted``). The authority or,
after its national duplicate re-check, the national registry answers with
``KeyFieldChangeDecided``; an applied change updates the roster entry, and a temporary ``L``
number becomes the ``G`` number of a newly recorded resident ID. The school keeps the proofs
(``GET /api/v1/key-field-changes/{id}/proofs/{index}``): the archive's section 2 at the
province links them there (N2013 arts. 7(二), 13; decision 0043).
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
from services.school.domain.key_fields import KeyFieldChangeStatus, number_after_change
from services.school.domain.students import (
    StudentStatus,
    Violation,
    check_identity,
    normalise_id_number,
)
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.proofs import proof_sizes
from services.school.service_layer.registration import DUPLICATE_RULE
from services.school.service_layer.submission import school_unit
from shared.contracts.registration import (
    KeyFieldChangeDecided,
    KeyFieldChanges,
    KeyFieldChangeSubmitted,
    ProofDocument,
)
from shared.contracts.students import IdType
from shared.federation.config import School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import InvalidResidentId, validate_student_number
from shared.rules import ALWAYS_KEY_FIELDS, PROVINCE_KEY_FIELDS
from shared.runtime.errors import Conflict, NotFound

[HUKOU_PLACE] = PROVINCE_KEY_FIELDS


@dataclass(frozen=True)
class _Identity:
    """The roster entry's facts with the requested document: what check_identity looks at."""

    gender: str
    birth_date: date
    id_type: str
    id_number: str | None
    grade: int
    enrolled_on: date


async def submit_change(
    uow: UnitOfWork,
    school: School,
    student_number: str,
    changes: KeyFieldChanges,
    reason: str,
    proofs: Sequence[ProofDocument],
    *,
    today: date,
    max_proof_bytes: int,
    key_fields: Collection[str] = ALWAYS_KEY_FIELDS,
    hukou_region: str | None = None,
) -> uuid.UUID:
    """Check a key-field change of a student on the roster and send it to the authority.
    ``key_fields``: the fields the province lists as key fields. ``hukou_region``: a new hukou
    place, where ``hukou_place`` is listed; alone in its application (the authority decides
    it and the province applies it: national never sees it, decision 0043)."""
    student = await repository.get_student(uow.session, school.code, student_number)
    if student is None:
        raise NotFound(f"student {student_number} is not on the roster of school {school.code}")
    if student.status == StudentStatus.TRANSFERRED_OUT:
        raise Conflict(
            "the student transferred to another school: the record here is read-only",
            rule="student_transferred_out",
        )
    sizes = proof_sizes(proofs, max_proof_bytes)
    _refuse_other_fields(changes, key_fields)
    changes = requested(student, changes)
    if hukou_region is None:
        check_changes(student, changes, today)
    else:
        _check_hukou_alone(changes, key_fields)
    await _refuse_conflicts(uow.session, school.code, student, changes)
    change_id = uuid.uuid4()
    await repository.insert_change(
        uow.session,
        _change_row(change_id, school.code, student_number, changes, reason, proofs, sizes),
        [
            {
                "change_id": str(change_id),
                "position": index,
                "kind": p.kind,
                "filename": p.filename,
                "size": size,
                "content": binascii.a2b_base64(p.content_base64),
            }
            for index, (p, size) in enumerate(zip(proofs, sizes, strict=True))
        ],
    )
    submitted = KeyFieldChangeSubmitted(
        change_id=change_id,
        school_code=school.code,
        student_number=student_number,
        changes=changes,
        reason=reason,
        proofs=tuple(proofs),
        hukou_region=hukou_region,
    )
    emit = uow.emitter(school_unit(school))
    await emit(submitted, target=school.authority_unit)
    return change_id


def requested(student: Row[Any], changes: KeyFieldChanges) -> KeyFieldChanges:
    """The request in stored spellings, keeping only fields that really change (a new
    document type keeps its number, even one equal to the old document's)."""
    name = changes.name.strip() if changes.name else None
    id_type = changes.id_type if changes.id_type not in (None, student.id_type) else None
    number = normalise_id_number(changes.id_number)
    if id_type is None and number == student.id_number:
        number = None
    nationality = changes.nationality.strip().upper() if changes.nationality else None
    ethnicity = changes.ethnicity.strip() if changes.ethnicity else None
    return KeyFieldChanges(
        name=name if name != student.name else None,
        id_type=id_type,
        id_number=number,
        gender=changes.gender if changes.gender != student.gender else None,
        birth_date=changes.birth_date if changes.birth_date != student.birth_date else None,
        nationality=nationality if nationality != student.nationality else None,
        ethnicity=ethnicity if ethnicity != student.ethnicity else None,
    )


def _refuse_other_fields(changes: KeyFieldChanges, key_fields: Collection[str]) -> None:
    """A field the province does not list as a key field is not changed this way."""
    others = [name for name in changes.named() if name not in key_fields]
    if others:
        raise InvalidInput(
            [
                Violation(
                    f"changes.{name}",
                    "not_a_key_field",
                    "the province's rules do not list this field as a key field",
                )
                for name in others
            ]
        )


def _check_hukou_alone(changes: KeyFieldChanges, key_fields: Collection[str]) -> None:
    """The hukou place is a key field only where the province lists it, and goes alone: its
    decision is the authority's, the basic fields' national's."""
    if HUKOU_PLACE not in key_fields:
        raise InvalidInput(
            [
                Violation(
                    "hukou_region",
                    "not_a_key_field",
                    "the province's rules do not list the hukou place as a key field: the "
                    "school edits it in the archive's contacts",
                )
            ]
        )
    if changes.named():
        raise InvalidInput(
            [
                Violation(
                    "hukou_region",
                    "hukou_place_alone",
                    "a hukou place change is applied alone: send the other fields separately",
                )
            ]
        )


def check_changes(student: Row[Any], changes: KeyFieldChanges, today: date) -> None:
    """At least one key field changes; a new document, gender or birth date passes the
    registration rules (a resident ID carries the birth date and gender)."""
    if not changes.named():
        raise InvalidInput([Violation("changes", "no_change", "no key field would change")])
    if changes.id_type == IdType.NONE:
        raise InvalidInput(
            [Violation("changes.id_type", "id_type_none", "a recorded document cannot be removed")]
        )
    identity = (changes.id_type, changes.id_number, changes.gender, changes.birth_date)
    if all(value is None for value in identity):
        return
    violations = check_identity(_identity(student, changes), today)
    if violations:
        field = "changes.id_number" if changes.id_number or changes.id_type else "changes"
        raise InvalidInput([Violation(field, v.rule, v.message) for v in violations])


def _identity(student: Row[Any], changes: KeyFieldChanges) -> _Identity:
    if changes.id_type is not None:  # a new kind of document: exactly the number requested
        id_type, number = str(changes.id_type), changes.id_number
    else:
        id_type, number = student.id_type, changes.id_number or student.id_number
    return _Identity(
        gender=changes.gender or student.gender,
        birth_date=changes.birth_date or student.birth_date,
        id_type=id_type,
        id_number=number,
        grade=student.grade,
        enrolled_on=student.enrolled_on,
    )


async def _refuse_conflicts(
    session: AsyncSession, school_code: str, student: Row[Any], changes: KeyFieldChanges
) -> None:
    if await repository.has_open_change(session, school_code, student.student_number):
        raise Conflict(
            "a key-field change of this student is already waiting for a decision",
            rule="change_pending",
        )
    if changes.id_number and await repository.taken_id_numbers(
        session, school_code, [changes.id_number]
    ):
        raise Conflict(
            "another registration at this school holds this document number", rule=DUPLICATE_RULE
        )


def _change_row(
    change_id: uuid.UUID,
    school_code: str,
    student_number: str,
    changes: KeyFieldChanges,
    reason: str,
    proofs: Sequence[ProofDocument],
    sizes: Sequence[int],
) -> dict[str, Any]:
    return {
        "change_id": str(change_id),
        "school_code": school_code,
        "student_number": student_number,
        "status": KeyFieldChangeStatus.SUBMITTED.value,
        "changes": changes.model_dump(mode="json"),
        "reason": reason,
        "proofs": [
            {"kind": p.kind, "filename": p.filename, "size": size}
            for p, size in zip(proofs, sizes, strict=True)
        ],
        "submitted_at": datetime.now(UTC),
    }


async def get_proof(
    session: AsyncSession, change_id: uuid.UUID, index: int, hosts: Callable[[str], bool]
) -> Row[Any]:
    """The ``index``-th proof of a key-field change of a school hosted here."""
    await get_change(session, change_id, hosts)
    proof = await repository.change_proof(session, str(change_id), index)
    if proof is None:
        raise NotFound(f"key-field change {change_id} has no proof {index}", rule="proof_not_found")
    return proof


async def get_change(
    session: AsyncSession, change_id: uuid.UUID, hosts: Callable[[str], bool]
) -> Row[Any]:
    row = await repository.get_change(session, str(change_id))
    if row is None or not hosts(row.school_code):
        raise NotFound(f"key-field change {change_id} is not known here")
    return row


async def apply_change_decision(session: AsyncSession, decided: KeyFieldChangeDecided) -> None:
    """Record the decision; an applied change rewrites the roster entry. A decided change
    stays decided, so a redelivered or late second decision changes nothing."""
    change = await repository.get_change(session, str(decided.change_id))
    if change is None or change.school_code != decided.school_code:
        raise PermanentMessageError(f"key-field change {decided.change_id} is not known here")
    if change.status != KeyFieldChangeStatus.SUBMITTED:
        return
    now = datetime.now(UTC)
    closing: dict[str, Any] = {
        "decided_by": decided.decided_by,
        "decided_at": now,
        "decision_reason": decided.reason,
        "rule": decided.rule,
    }
    if decided.outcome == "rejected":
        await repository.close_change(
            session, change.change_id, {**closing, "status": KeyFieldChangeStatus.REJECTED}
        )
        return
    number = _new_number(change.student_number, decided)
    await repository.update_key_fields(
        session,
        change.school_code,
        change.student_number,
        {**_applied_fields(decided.changes), "student_number": number, "updated_at": now},
    )
    await repository.close_change(
        session,
        change.change_id,
        {**closing, "status": KeyFieldChangeStatus.APPLIED, "new_student_number": number},
    )


def _new_number(current: str, decided: KeyFieldChangeDecided) -> str:
    changes = decided.changes
    try:
        number = number_after_change(
            current,
            changes.id_type,
            normalise_id_number(changes.id_number),
            normalise_id_number(decided.new_student_number),
        )
        return validate_student_number(number).number
    except InvalidResidentId as error:
        raise PermanentMessageError(
            f"key-field change {decided.change_id} leads to an unusable student number "
            f"({error.rule})"
        ) from None


def _applied_fields(changes: KeyFieldChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = changes.name
    if changes.id_type is not None:
        values["id_type"] = changes.id_type.value
        values["id_number"] = normalise_id_number(changes.id_number)
    elif changes.id_number is not None:
        values["id_number"] = normalise_id_number(changes.id_number)
    for name in ("gender", "birth_date", "nationality", "ethnicity"):
        if (value := getattr(changes, name)) is not None:
            values[name] = value
    return values
