"""Deciding held applicants (the review queue) against a real national database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

import pytest
from sqlalchemy import select

from services.national.adapters.orm import DedupReview, RegistryEntry
from services.national.adapters.repository import NationalRepository
from services.national.service_layer import reviews
from shared.contracts.students import IdType
from shared.messaging.envelope import Envelope
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict, NotFound
from tests.services.national.builders import (
    ZHEJIANG_SCHOOL,
    NationalDriver,
    basic,
    batch,
    outcomes_of,
    targets,
)

BORN = date(2018, 3, 14)


def decision(kind: Literal["issue", "reject"], reason: str = "checked") -> reviews.ReviewDecision:
    return reviews.ReviewDecision(
        decision=kind, reason=reason, division_of=lambda code: code[:6], now=datetime.now(UTC)
    )


async def held(national: NationalDriver, **kwargs: object) -> tuple[uuid.UUID, Envelope]:
    """Register 张伟 in Henan, then hold a look-alike from Zhejiang; the review and its batch."""
    await national.deliver(batch(basic("张伟", birth=BORN)))
    [envelope, _] = await national.deliver(
        batch(basic("张伟", birth=BORN, **kwargs), school=ZHEJIANG_SCHOOL)  # type: ignore[arg-type]
    )
    async with national.sessions() as session:
        review_id = (await session.scalars(select(DedupReview.review_id))).one()
    return uuid.UUID(review_id), envelope


async def decide(
    national: NationalDriver, review_id: uuid.UUID, kind: Literal["issue", "reject"]
) -> tuple[DedupReview, list[Envelope]]:
    before = await national.last_outbox_id()
    async with UnitOfWork(national.sessions) as uow:
        review, _ = await reviews.decide_review(uow, review_id, decision(kind))
        await uow.commit()
    return review, await national.staged_since(before)


async def test_issuing_a_held_applicant_records_it_and_tells_school_and_province(
    national: NationalDriver,
) -> None:
    review_id, held_envelope = await held(national)

    review, sent = await decide(national, review_id, "issue")

    assert review.status == "issued" and review.student_number is not None
    assert targets(sent) == ["school:3301020001", "province:33"]
    assert all(e.correlation_id == held_envelope.correlation_id for e in sent)
    [outcome] = outcomes_of(sent[0])
    assert outcome["outcome"] == "issued" and outcome["student_number"] == review.student_number
    assert outcome["registration_id"] == review.registration_id
    assert sent[0].payload["batch_id"] == held_envelope.payload["batch_id"]
    async with national.sessions() as session:
        entry = (
            await session.scalars(
                select(RegistryEntry).where(RegistryEntry.student_number == review.student_number)
            )
        ).one()
    assert (entry.school_code, entry.province_code, entry.status) == (
        ZHEJIANG_SCHOOL,
        "33",
        "enrolled",
    )


async def test_rejecting_a_held_applicant_sends_the_reviewers_reason(
    national: NationalDriver,
) -> None:
    review_id, _ = await held(national)
    review, sent = await decide(national, review_id, "reject")
    assert review.status == "rejected" and review.student_number is None
    [outcome] = outcomes_of(sent[0])
    assert outcome["outcome"] == "rejected" and outcome["rule"] == "suspect_same_name_gender_birth"
    assert outcome["reason"] == "rejected on national review: checked"


async def test_a_decided_review_cannot_be_decided_again(national: NationalDriver) -> None:
    review_id, _ = await held(national)
    await decide(national, review_id, "reject")
    with pytest.raises(Conflict):
        await decide(national, review_id, "issue")


async def test_an_unknown_review_is_not_found(national: NationalDriver) -> None:
    with pytest.raises(NotFound):
        await decide(national, uuid.uuid4(), "issue")


async def test_issuing_rechecks_the_exact_rule(national: NationalDriver) -> None:
    """The document got registered meanwhile (e.g. by a data import): issue becomes reject."""
    review_id, _ = await held(national, id_type=IdType.PASSPORT)
    async with national.sessions() as session, session.begin():
        review = (await session.scalars(select(DedupReview))).one()
        matched = await session.get(RegistryEntry, review.matched_entry_id)
        assert matched is not None
        await NationalRepository(session).add_entries(
            [
                {
                    **{c.key: getattr(matched, c.key) for c in RegistryEntry.__table__.columns},
                    "entry_id": str(uuid.uuid4()),
                    "student_number": "G" + "0" * 18,
                    "registration_id": str(uuid.uuid4()),
                    "id_type": review.id_type,
                    "id_number": review.id_number,
                    "school_code": "5101040001",
                    "province_code": "51",
                }
            ]
        )

    review, sent = await decide(national, review_id, "issue")

    assert review.status == "rejected" and review.decision_rule == "duplicate_registration"
    [outcome] = outcomes_of(sent[0])
    assert outcome["rule"] == "duplicate_registration"
    assert outcome["reason"] == "already registered at school 5101040001 in province 51"


async def test_the_queue_lists_open_reviews_of_a_province_with_the_matched_entry(
    national: NationalDriver,
) -> None:
    review_id, _ = await held(national)
    async with national.sessions() as session:
        repo = NationalRepository(session)
        [(review, matched)] = await reviews.list_reviews(
            repo, province="33", status="open", after=None, limit=10
        )
        assert (
            await reviews.list_reviews(repo, province="41", status="open", after=None, limit=10)
            == []
        )
    assert review.review_id == str(review_id)
    assert (matched.school_code, matched.province_code) == ("4101020001", "41")
