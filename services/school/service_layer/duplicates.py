"""Use case: the school a student really attends resolves a duplicate admission (重复招生处理,
LS 2(三)): "学生实际就读学校必须上传《学生实际就读证明表》（附表3）作为佐证，对方学校删除，双方
学校教育主管部门核办".

The real school's registration was refused by national's dedup (``duplicate_registration``):
the student is registered at another school. It asks national to resolve it with the
attendance proof (kind ``attendance_proof``; the file stays here and is served to both
authorities). When both authorities have approved, national moves the registration here:
this school's refused registration stands with the student number and the student joins the
roster; the other school deletes its registration (the roster entry is removed, the
resolution kept as its record of why).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
from services.school.adapters.orm import (
    duplicate_proof,
    duplicate_resolution,
    registration,
    student,
)
from services.school.domain.registration import RegistrationStatus
from services.school.domain.students import StudentStatus, normalise_id_number
from services.school.service_layer.proofs import proof_sizes
from services.school.service_layer.submission import school_unit
from shared.contracts.duplicates import (
    ATTENDANCE_PROOF,
    DuplicateResolutionDecided,
    DuplicateResolutionRequested,
)
from shared.contracts.registration import ProofDocument
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL, School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import InvalidResidentId, student_number_for
from shared.runtime.errors import Conflict, DomainError, NotFound

DUPLICATE_RULE = "duplicate_registration"
RULE_NOT_REFUSED_DUPLICATE = "not_a_refused_duplicate"
RULE_NUMBER_MISMATCH = "student_number_mismatch"
RULE_PROOF_REQUIRED = "attendance_proof_required"
RULE_PENDING = "duplicate_resolution_pending"


async def request_resolution(
    uow: UnitOfWork,
    school: School,
    registration_id: uuid.UUID,
    student_number: str,
    other_school: str,
    reason: str,
    proofs: Sequence[ProofDocument],
    *,
    max_proof_bytes: int,
    now: datetime,
) -> uuid.UUID:
    """Check the request against the refused registration and send it to national."""
    refused = await repository.get_registration(uow.session, str(registration_id))
    if refused is None or refused.school_code != school.code:
        raise NotFound(f"registration {registration_id} is not known at school {school.code}")
    if refused.status != RegistrationStatus.REJECTED or refused.rule != DUPLICATE_RULE:
        raise DomainError(
            "only a registration national refused as a duplicate can be resolved (LS 2(三))",
            rule=RULE_NOT_REFUSED_DUPLICATE,
        )
    if _number_of(refused) not in (None, student_number):
        raise DomainError(
            "the student number is not the one of the refused registration's resident ID",
            rule=RULE_NUMBER_MISMATCH,
        )
    if not any(p.kind == ATTENDANCE_PROOF for p in proofs):
        raise DomainError(
            "the attendance proof (学生实际就读证明表, LS 附表3) is required, kind "
            f"{ATTENDANCE_PROOF!r}",
            rule=RULE_PROOF_REQUIRED,
        )
    sizes = proof_sizes(proofs, max_proof_bytes)
    if await _open(uow.session, str(registration_id)):
        raise Conflict("a resolution of this registration is waiting", rule=RULE_PENDING)
    resolution_id = uuid.uuid4()
    await _store(
        uow.session, resolution_id, school, refused, student_number, other_school, reason, now
    )
    await _store_proofs(uow.session, resolution_id, proofs, sizes)
    requested = DuplicateResolutionRequested(
        resolution_id=resolution_id,
        student_number=student_number,
        real_school=school.code,
        other_school=other_school,
        registration_id=registration_id,
        reason=reason,
        proofs=tuple(ProofRef(index=i, kind=p.kind) for i, p in enumerate(proofs)),
    )
    emit = uow.emitter(school_unit(school))
    await emit(requested, target=NATIONAL)
    return resolution_id


def _number_of(refused: Row[Any]) -> str | None:
    if refused.id_type != "resident_id" or not refused.id_number:
        return None  # an L number cannot be derived: national checks the registration
    try:
        return student_number_for(refused.id_number)
    except InvalidResidentId:
        return None


async def apply_decision(
    session: AsyncSession, school_code: str, decided: DuplicateResolutionDecided, now: datetime
) -> None:
    """The real school records the outcome (and enrols when resolved); the other school
    deletes its registration. Idempotent: a decided resolution stays decided."""
    if school_code == decided.real_school:
        await _as_real_school(session, decided, now)
    elif school_code == decided.other_school and decided.outcome == "resolved":
        await _as_other_school(session, decided, now)
    else:
        raise PermanentMessageError(f"duplicate resolution {decided.resolution_id} is not for here")


async def _as_real_school(
    session: AsyncSession, decided: DuplicateResolutionDecided, now: datetime
) -> None:
    key = (
        duplicate_resolution.c.resolution_id == str(decided.resolution_id),
        duplicate_resolution.c.school_code == decided.real_school,
    )
    row = (await session.execute(select(duplicate_resolution).where(*key))).one_or_none()
    if row is None:
        raise PermanentMessageError(f"duplicate resolution {decided.resolution_id} is unknown here")
    if row.status != "requested":
        return
    await session.execute(
        update(duplicate_resolution)
        .where(*key)
        .values(
            status=decided.outcome,
            rule=decided.rule,
            decision_reason=decided.reason,
            decided_at=now,
        )
    )
    if decided.outcome != "resolved" or decided.basic is None:
        return
    basic = decided.basic
    await session.execute(
        update(registration)
        .where(registration.c.registration_id == str(decided.registration_id))
        .values(
            status=RegistrationStatus.APPROVED,
            student_number=decided.student_number,
            rule=None,
            reason="duplicate resolved in favour of this school (LS 2(三))",
            decided_by=decided.decided_by,
            updated_at=now,
        )
    )
    await session.execute(
        insert(student).values(
            school_code=decided.real_school,
            student_number=decided.student_number,
            registration_id=str(decided.registration_id),
            name=basic.name,
            gender=basic.gender,
            birth_date=basic.birth_date,
            id_type=basic.id_type.value,
            id_number=normalise_id_number(basic.id_number),
            nationality=basic.nationality,
            ethnicity=basic.ethnicity,
            grade=basic.grade,
            enrolled_on=basic.enrolled_on,
            status=StudentStatus.ENROLLED.value,
            created_at=now,
            updated_at=now,
        )
    )


async def _as_other_school(
    session: AsyncSession, decided: DuplicateResolutionDecided, now: datetime
) -> None:
    assert decided.other_school is not None
    exists = await session.execute(
        select(duplicate_resolution.c.resolution_id).where(
            duplicate_resolution.c.resolution_id == str(decided.resolution_id),
            duplicate_resolution.c.school_code == decided.other_school,
        )
    )
    if exists.first() is not None:
        return
    await session.execute(
        delete(student).where(
            student.c.school_code == decided.other_school,
            student.c.student_number == decided.student_number,
        )
    )
    await session.execute(
        insert(duplicate_resolution).values(
            resolution_id=str(decided.resolution_id),
            school_code=decided.other_school,
            role="other",
            student_number=decided.student_number,
            registration_id=None,
            other_school=decided.real_school,
            status="resolved",
            reason=f"registration deleted: the student attends {decided.real_school} (LS 2(三))",
            requested_at=now,
            decided_at=now,
        )
    )


async def read(session: AsyncSession, school_code: str, resolution_id: uuid.UUID) -> Row[Any]:
    row = (
        await session.execute(
            select(duplicate_resolution).where(
                duplicate_resolution.c.resolution_id == str(resolution_id),
                duplicate_resolution.c.school_code == school_code,
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"duplicate resolution {resolution_id} is not known at {school_code}")
    return row


async def proof(
    session: AsyncSession,
    resolution_id: uuid.UUID,
    index: int,
    may_read: Callable[[str, str | None], bool],
) -> Row[Any]:
    """A proof of a resolution asked here, if ``may_read(real_school, other_school)``."""
    owner = (
        await session.execute(
            select(duplicate_resolution.c.school_code, duplicate_resolution.c.other_school).where(
                duplicate_resolution.c.resolution_id == str(resolution_id),
                duplicate_resolution.c.role == "real",
            )
        )
    ).one_or_none()
    found = None
    if owner is not None and may_read(owner.school_code, owner.other_school):
        found = (
            await session.execute(
                select(duplicate_proof).where(
                    duplicate_proof.c.resolution_id == str(resolution_id),
                    duplicate_proof.c.position == index,
                )
            )
        ).one_or_none()
    if found is None:
        raise NotFound(
            f"duplicate resolution {resolution_id} has no proof {index}", rule="proof_not_found"
        )
    return found


async def _open(session: AsyncSession, registration_id: str) -> bool:
    found = await session.execute(
        select(duplicate_resolution.c.resolution_id).where(
            duplicate_resolution.c.registration_id == registration_id,
            duplicate_resolution.c.status == "requested",
        )
    )
    return found.first() is not None


async def _store(
    session: AsyncSession,
    resolution_id: uuid.UUID,
    school: School,
    refused: Row[Any],
    student_number: str,
    other_school: str,
    reason: str,
    now: datetime,
) -> None:
    await session.execute(
        insert(duplicate_resolution).values(
            resolution_id=str(resolution_id),
            school_code=school.code,
            role="real",
            student_number=student_number,
            registration_id=refused.registration_id,
            other_school=other_school,
            status="requested",
            reason=reason,
            requested_at=now,
        )
    )


async def _store_proofs(
    session: AsyncSession,
    resolution_id: uuid.UUID,
    proofs: Sequence[ProofDocument],
    sizes: Sequence[int],
) -> None:
    await session.execute(
        insert(duplicate_proof),
        [
            {
                "resolution_id": str(resolution_id),
                "position": i,
                "kind": p.kind,
                "filename": p.filename,
                "size": size,
                "content": base64.b64decode(p.content_base64),
            }
            for i, (p, size) in enumerate(zip(proofs, sizes, strict=True))
        ],
    )
