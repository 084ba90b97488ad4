"""Sending registrations up: store them ``pending`` and file each batch with the province and
the authority, in the caller's unit of work.

Per batch (at most ``batch_size`` registrations) the school emits

- ``ArchiveFiled`` (basic + extended info) to its province, which keeps the extended info;
- ``RegistrationBatchSubmitted`` (basic info only) to its registry authority.

Both carry the batch id as their correlation id, so the approval flow that follows can be
traced to the batch. Rows and envelopes are built by :func:`prepare_batches`, a pure function
that bulk admission runs off the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
from services.school.domain.registration import RegistrationStatus
from shared.contracts.registration import (
    ArchiveFiled,
    ArchiveItem,
    ProofDocument,
    RegistrationBatchSubmitted,
    SubmittedItem,
)
from shared.contracts.students import BasicInfo, ExtendedInfo
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.envelope import Envelope, build_envelope
from shared.messaging.outbox import stage


@dataclass(frozen=True)
class Submission:
    """One student to register: checked basic info, extended info for the province."""

    registration_id: uuid.UUID
    basic: BasicInfo
    extended: ExtendedInfo
    source_row: int | None = None
    # Proofs for the authority (HA art. 4: an under-age first-grader's approval).
    proofs: tuple[ProofDocument, ...] = ()


@dataclass(frozen=True)
class PreparedBatch:
    batch_id: uuid.UUID
    rows: list[dict[str, Any]]
    envelopes: list[Envelope]


def school_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=school.code)


def province_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.province)


# Who approves a batch of the school with students in these grades (shared.rules.
# registration_authority): its registry authority, or its city for a Yi-track senior list.
AuthorityOf = Callable[[School, Sequence[int]], UnitRef]


def _registry_authority(school: School, grades: Sequence[int]) -> UnitRef:
    return school.authority_unit


def prepare_batches(
    school: School,
    submissions: Sequence[Submission],
    *,
    batch_size: int,
    now: datetime,
    job_id: uuid.UUID | None = None,
    authority_of: AuthorityOf | None = None,
) -> list[PreparedBatch]:
    """Split ``submissions`` into batches: their registration rows and their two messages."""
    authority = authority_of or _registry_authority
    return [
        _prepare(school, submissions[start : start + batch_size], now, job_id, authority)
        for start in range(0, len(submissions), batch_size)
    ]


async def store_batches(session: AsyncSession, batches: Sequence[PreparedBatch]) -> None:
    """Insert the registrations and stage the messages (published when the caller commits)."""
    for batch in batches:
        await repository.insert_registrations(session, batch.rows)
        await stage(session, batch.envelopes)


def _prepare(
    school: School,
    chunk: Sequence[Submission],
    now: datetime,
    job_id: uuid.UUID | None,
    authority_of: AuthorityOf,
) -> PreparedBatch:
    batch_id = uuid.uuid4()
    rows = [_row(school.code, batch_id, job_id, item, now) for item in chunk]
    archive = ArchiveFiled(
        batch_id=batch_id,
        school_code=school.code,
        items=tuple(
            ArchiveItem(registration_id=s.registration_id, basic=s.basic, extended=s.extended)
            for s in chunk
        ),
    )
    request = RegistrationBatchSubmitted(
        batch_id=batch_id,
        school_code=school.code,
        items=tuple(
            SubmittedItem(registration_id=s.registration_id, basic=s.basic, proofs=s.proofs)
            for s in chunk
        ),
    )
    source = school_unit(school)
    envelopes = [
        build_envelope(
            archive, source=source, target=province_unit(school), correlation_id=batch_id
        ),
        build_envelope(
            request,
            source=source,
            target=authority_of(school, [s.basic.grade for s in chunk]),
            correlation_id=batch_id,
        ),
    ]
    return PreparedBatch(batch_id, rows, envelopes)


def _row(
    school_code: str,
    batch_id: uuid.UUID,
    job_id: uuid.UUID | None,
    item: Submission,
    now: datetime,
) -> dict[str, Any]:
    basic = item.basic
    return {
        "registration_id": str(item.registration_id),
        "school_code": school_code,
        "batch_id": str(batch_id),
        "job_id": str(job_id) if job_id else None,
        "source_row": item.source_row,
        "status": RegistrationStatus.PENDING.value,
        "name": basic.name,
        "gender": basic.gender,
        "birth_date": basic.birth_date,
        "id_type": basic.id_type.value,
        "id_number": basic.id_number,
        "nationality": basic.nationality,
        "ethnicity": basic.ethnicity,
        "grade": basic.grade,
        "enrolled_on": basic.enrolled_on,
        "student_number": None,
        "reason": None,
        "rule": None,
        "decided_by": None,
        "submitted_at": now,
        "updated_at": now,
    }
