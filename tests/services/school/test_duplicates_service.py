"""Duplicate admission resolution at the school (LS 2(三)), on a real database (SQLite,
PostgreSQL): only a registration refused as a duplicate, with the attendance proof, once at a
time; when resolved the real school's registration stands and the other school deletes its
roster entry."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from services.school.service_layer import duplicates, registration, roster
from shared.contracts.duplicates import DuplicateResolutionDecided
from shared.contracts.registration import ProofDocument, RegistrationOutcome
from shared.db.engine import SessionFactory
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import student_number_for
from shared.runtime.errors import Conflict, DomainError, NotFound
from tests.services.school.conftest import EXTENDED, PRIMARY, TODAY, basic, decided, deliver, staged
from tests.services.school.test_graduation_service import on_roster

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
OTHER = "4101020003"
ATTENDANCE = ProofDocument(
    kind="attendance_proof",
    filename="attendance.pdf",
    content_base64=base64.b64encode(b"%PDF-1.4").decode(),
)


async def refused(
    sessions: SessionFactory, rule: str = "duplicate_registration"
) -> tuple[uuid.UUID, str]:
    info = basic()
    async with UnitOfWork(sessions) as uow:
        registration_id = await registration.register_student(
            uow, PRIMARY, info, EXTENDED, today=TODAY
        )
        await uow.commit()
    outcome = RegistrationOutcome(
        registration_id=registration_id,
        outcome="rejected",
        reason="registered at 4101020003",
        rule=rule,
    )
    await deliver(sessions, decided(outcome))
    return registration_id, student_number_for(info.id_number or "")


async def ask(
    sessions: SessionFactory,
    registration_id: uuid.UUID,
    number: str,
    proofs: tuple[ProofDocument, ...] = (ATTENDANCE,),
) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        result = await duplicates.request_resolution(
            uow,
            PRIMARY,
            registration_id,
            number,
            OTHER,
            "attends here",
            proofs,
            max_proof_bytes=1_000_000,
            now=NOW,
        )
        await uow.commit()
        return result


def outcome(
    resolution_id: uuid.UUID, registration_id: uuid.UUID, number: str, result: str
) -> DuplicateResolutionDecided:
    return DuplicateResolutionDecided(
        resolution_id=resolution_id,
        student_number=number,
        real_school=PRIMARY.code,
        other_school=OTHER,
        registration_id=registration_id,
        outcome=result,  # type: ignore[arg-type]
        decided_by="national:CN",
        basic=basic(grade=2) if result == "resolved" else None,
    )


async def apply(sessions: SessionFactory, school: str, message: DuplicateResolutionDecided) -> None:
    async with sessions() as session, session.begin():
        await duplicates.apply_decision(session, school, message, NOW)


async def test_the_request_goes_to_national_with_the_proof_kept_here(
    sessions: SessionFactory,
) -> None:
    registration_id, number = await refused(sessions)
    resolution_id = await ask(sessions, registration_id, number)
    sent = [e for e in await staged(sessions) if e.type == "duplicate.resolution_requested"]
    [message] = sent
    assert str(message.target) == "national:CN"
    assert message.payload["proofs"] == [{"index": 0, "kind": "attendance_proof"}]
    async with sessions() as session:
        kept = await duplicates.proof(
            session, resolution_id, 0, lambda real, other: (real, other) == (PRIMARY.code, OTHER)
        )
    assert kept.content == b"%PDF-1.4"
    with pytest.raises(Conflict) as again:
        await ask(sessions, registration_id, number)
    assert again.value.rule == "duplicate_resolution_pending"


async def test_refusals_name_their_rule(sessions: SessionFactory) -> None:
    other_rule, other_number = await refused(sessions, rule="authority_rejected")
    with pytest.raises(DomainError) as not_duplicate:
        await ask(sessions, other_rule, other_number)
    assert not_duplicate.value.rule == "not_a_refused_duplicate"
    registration_id, number = await refused(sessions)
    with pytest.raises(DomainError) as mismatch:
        await ask(sessions, registration_id, "G" + "4" * 18)
    assert mismatch.value.rule == "student_number_mismatch"
    with pytest.raises(DomainError) as no_proof:
        await ask(sessions, registration_id, number, (ATTENDANCE.model_copy(update={"kind": "x"}),))
    assert no_proof.value.rule == "attendance_proof_required"


async def test_resolved_the_registration_stands_and_the_student_is_enrolled(
    sessions: SessionFactory,
) -> None:
    registration_id, number = await refused(sessions)
    resolution_id = await ask(sessions, registration_id, number)
    message = outcome(resolution_id, registration_id, number, "resolved")
    await apply(sessions, PRIMARY.code, message)
    await apply(sessions, PRIMARY.code, message)  # a second copy changes nothing
    async with sessions() as session:
        row = await registration.get_registration(session, registration_id, lambda _: True)
        student = await roster.get_student(session, PRIMARY.code, number)
        resolution = await duplicates.read(session, PRIMARY.code, resolution_id)
    assert (row.status, row.student_number) == ("approved", number)
    assert (student.status, student.grade) == ("enrolled", 2)
    assert resolution.status == "resolved"


async def test_rejected_nothing_changes(sessions: SessionFactory) -> None:
    registration_id, number = await refused(sessions)
    resolution_id = await ask(sessions, registration_id, number)
    await apply(sessions, PRIMARY.code, outcome(resolution_id, registration_id, number, "rejected"))
    async with sessions() as session:
        row = await registration.get_registration(session, registration_id, lambda _: True)
    assert row.status == "rejected"


async def test_the_other_school_deletes_its_registration(sessions: SessionFactory) -> None:
    number = await on_roster(sessions, 3)
    message = DuplicateResolutionDecided(
        resolution_id=uuid.uuid4(),
        student_number=number,
        real_school=OTHER,
        other_school=PRIMARY.code,
        registration_id=uuid.uuid4(),
        outcome="resolved",
        decided_by="national:CN",
        basic=basic(grade=3),
    )
    await apply(sessions, PRIMARY.code, message)
    await apply(sessions, PRIMARY.code, message)  # once
    async with sessions() as session:
        with pytest.raises(NotFound):
            await roster.get_student(session, PRIMARY.code, number)
        kept = await duplicates.read(session, PRIMARY.code, message.resolution_id)
    assert (kept.role, kept.status) == ("other", "resolved")
    with pytest.raises(PermanentMessageError):  # a school the resolution does not name
        await apply(sessions, "4101050001", message)
