"""Registering one student and applying the outcomes, against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from datetime import date

import pytest
from sqlalchemy import select

from devtools.testing import REPO_CONFIG
from services.school.adapters.orm import registration as registration_table
from services.school.adapters.orm import student as student_table
from services.school.service_layer import registration
from services.school.service_layer.errors import InvalidInput
from shared.contracts.registration import RegistrationOutcome
from shared.db.engine import SessionFactory
from shared.federation.config import School, UnitRef, load_federation
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import student_number_for
from shared.rules import registration_authority
from shared.runtime.errors import Conflict
from tests.services.school.conftest import (
    EXTENDED,
    PRIMARY,
    PROVINCE_DIRECT,
    TODAY,
    basic,
    decided,
    deliver,
    resident_id,
    staged,
)


async def register(
    sessions: SessionFactory, school: School = PRIMARY, **overrides: object
) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        result = await registration.register_student(
            uow,
            school,
            basic(**overrides),
            EXTENDED,
            today=TODAY,
        )
        await uow.commit()
        return result


async def status_of(sessions: SessionFactory, registration_id: uuid.UUID) -> tuple[str, str | None]:
    async with sessions() as session:
        row = await registration.get_registration(session, registration_id, lambda _code: True)
    return row.status, row.student_number


async def roster(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        result = await session.execute(select(student_table.c.student_number))
        return list(result.scalars())


def issued(registration_id: uuid.UUID, number: str) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=registration_id, outcome="issued", student_number=number
    )


def held(registration_id: uuid.UUID) -> RegistrationOutcome:
    return RegistrationOutcome(registration_id=registration_id, outcome="held_for_review")


def rejected(registration_id: uuid.UUID) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=registration_id,
        outcome="rejected",
        reason="already registered in province 33 at school 3301020001",
        rule="national_duplicate",
    )


async def test_one_unit_of_work_stores_pending_and_emits_exactly_two_messages(
    sessions: SessionFactory,
) -> None:
    registration_id = await register(sessions)

    assert await status_of(sessions, registration_id) == ("pending", None)
    archive, request = await staged(sessions)
    assert (archive.type, str(archive.target)) == ("registration.archive_filed", "province:41")
    assert (request.type, str(request.target)) == ("registration.batch_submitted", "county:410102")
    assert archive.source == request.source and str(archive.source) == "school:4101020001"
    assert (
        archive.correlation_id == request.correlation_id == uuid.UUID(request.payload["batch_id"])
    )
    assert archive.payload["items"][0]["extended"]["guardians"][0]["name"] == "张父"
    item = request.payload["items"][0]
    assert item["registration_id"] == str(registration_id)
    assert "extended" not in item
    text = json.dumps(request.payload, ensure_ascii=False)
    assert "张父" not in text and "建设路" not in text and "guardians" not in text


async def test_registrations_are_keyed_in_the_order_they_are_made(
    sessions: SessionFactory,
) -> None:
    """The registration id keys the province's archive and national's registration: it is
    time-ordered (version 7, decisions 0050 and 0059), so a school year's admissions append to
    those indexes instead of touching a random page of each per student."""
    first = await register(sessions)
    await asyncio.sleep(0.002)  # keys of one millisecond are not ordered among themselves
    second = await register(sessions)
    assert (first.version, second.version) == (7, 7)
    assert str(first) < str(second)
    assert abs((first.int >> 80) - time.time() * 1000) < 60_000  # its first 48 bits: now


async def test_the_school_keeps_no_extended_info(sessions: SessionFactory) -> None:
    await register(sessions)
    assert "guardians" not in registration_table.c and "address" not in registration_table.c
    async with sessions() as session:
        row = (await session.execute(select(registration_table))).one()
    assert "建设路" not in json.dumps([str(v) for v in row], ensure_ascii=False)


async def test_a_province_direct_school_applies_to_its_province(sessions: SessionFactory) -> None:
    await register(sessions, PROVINCE_DIRECT, grade=7, birth_date=date(2012, 5, 1))
    targets = sorted(str(e.target) for e in await staged(sessions))
    assert targets == ["province:41", "province:41"]


async def test_a_refused_form_stores_and_sends_nothing(sessions: SessionFactory) -> None:
    with pytest.raises(InvalidInput) as refused:
        await register(sessions, id_number="410102201803070013")
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("id_number", "resident_id.check_character")
    ]
    assert await staged(sessions) == []


async def test_a_document_number_pending_or_registered_here_is_a_duplicate(
    sessions: SessionFactory,
) -> None:
    number = resident_id()
    first = await register(sessions, id_number=number)
    with pytest.raises(Conflict):
        full_width = chr(ord(number[0]) + 0xFEE0) + number[1:]  # the same number, typed in IME
        await register(sessions, id_number=full_width)
    await deliver(sessions, decided(issued(first, student_number_for(number))))
    with pytest.raises(Conflict):
        await register(sessions, id_number=number)
    assert len(await staged(sessions)) == 2


async def test_a_rejected_registration_may_be_submitted_again(sessions: SessionFactory) -> None:
    number = resident_id()
    first = await register(sessions, id_number=number)
    await deliver(sessions, decided(rejected(first)))
    second = await register(sessions, id_number=number)
    assert await status_of(sessions, second) == ("pending", None)


async def test_outcomes_move_registrations_and_fill_the_roster(sessions: SessionFactory) -> None:
    numbers = [resident_id() for _ in range(6)]
    ids = [await register(sessions, id_number=n) for n in numbers]
    kept = [student_number_for(n) for n in numbers[:2]]

    await deliver(
        sessions,
        decided(
            issued(ids[0], kept[0]),
            issued(ids[1], kept[1]),
            rejected(ids[2]),
            rejected(ids[3]),
            held(ids[4]),
            held(ids[5]),
        ),
    )

    assert [await status_of(sessions, i) for i in ids[:2]] == [("approved", n) for n in kept]
    assert [(await status_of(sessions, i))[0] for i in ids[2:]] == ["rejected"] * 2 + [
        "held_for_review"
    ] * 2
    async with sessions() as session:
        row = await registration.get_registration(session, ids[3], lambda _code: True)
    assert (row.rule, row.decided_by) == ("national_duplicate", "national:CN")
    assert sorted(await roster(sessions)) == sorted(kept)


async def test_a_held_registration_is_decided_later(sessions: SessionFactory) -> None:
    number = resident_id()
    registration_id = await register(sessions, id_number=number)
    await deliver(sessions, decided(held(registration_id)))
    await deliver(sessions, decided(issued(registration_id, student_number_for(number))))
    assert await status_of(sessions, registration_id) == ("approved", student_number_for(number))


async def test_outcomes_are_idempotent_and_order_tolerant(sessions: SessionFactory) -> None:
    number = resident_id()
    registration_id = await register(sessions, id_number=number)
    outcome = decided(issued(registration_id, student_number_for(number)))

    await deliver(sessions, outcome)
    await deliver(sessions, outcome)  # redelivered
    await deliver(sessions, decided(held(registration_id)))  # a late hold
    await deliver(sessions, decided(rejected(registration_id)))  # a final outcome is final

    assert await status_of(sessions, registration_id) == ("approved", student_number_for(number))
    assert await roster(sessions) == [student_number_for(number)]


async def test_a_rejection_is_final_too(sessions: SessionFactory) -> None:
    registration_id = await register(sessions)
    await deliver(sessions, decided(rejected(registration_id)))
    await deliver(sessions, decided(held(registration_id)))
    await deliver(sessions, decided(issued(registration_id, student_number_for(resident_id()))))
    assert await status_of(sessions, registration_id) == ("rejected", None)
    assert await roster(sessions) == []


async def test_an_issued_outcome_without_a_usable_number_never_applies(
    sessions: SessionFactory,
) -> None:
    registration_id = await register(sessions)
    outcome = RegistrationOutcome(registration_id=registration_id, outcome="issued")
    with pytest.raises(PermanentMessageError):
        await deliver(sessions, decided(outcome))
    with pytest.raises(PermanentMessageError):
        await deliver(sessions, decided(issued(registration_id, "G123")))


async def test_a_decision_about_another_school_is_refused(sessions: SessionFactory) -> None:
    registration_id = await register(sessions)
    with pytest.raises(PermanentMessageError):
        await deliver(sessions, decided(held(registration_id), code=PROVINCE_DIRECT.code))


async def test_a_yi_track_senior_schools_first_year_list_is_sent_to_the_prefecture(
    sessions: SessionFactory,
) -> None:
    """LS 6: 一类模式高一年级新生名册…报州教育局…审核通过后方能注册学籍 — the batch goes to
    city:5134; a second-year registration of the same school to its county."""
    federation = load_federation(REPO_CONFIG)
    school = federation.school("5134010004")
    assert school is not None

    def authority_of(of: School, grades: Sequence[int]) -> UnitRef:
        return registration_authority(federation, REPO_CONFIG, of, grades)

    for grade, birth, expected in (
        (10, date(2008, 3, 7), "city:5134"),
        (11, date(2007, 3, 7), "county:513401"),
    ):
        async with UnitOfWork(sessions) as uow:
            await registration.register_student(
                uow,
                school,
                basic(grade=grade, birth_date=birth),
                EXTENDED,
                today=TODAY,
                authority_of=authority_of,
            )
            await uow.commit()
        *_, request = await staged(sessions)
        assert (request.type, str(request.target)) == ("registration.batch_submitted", expected)
