"""The registration-batch handler against a real national database (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from services.national.adapters.orm import DedupReview, RegistryEntry, TemporarySerial
from shared.contracts.students import BasicInfo, IdType
from shared.db.engine import SessionFactory
from shared.db.testing import recorded_statements
from shared.federation.config import Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.resident_id import validate_student_number
from tests.services.national.builders import (
    OTHER_SCHOOL_SAME_COUNTY,
    PROVINCE_DIRECT_SCHOOL,
    SCHOOL,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    basic,
    batch,
    outcomes_of,
    resident_id,
    targets,
)

BORN = date(2018, 3, 14)


async def entries(sessions: SessionFactory) -> list[RegistryEntry]:
    async with sessions() as session:
        return list(await session.scalars(select(RegistryEntry)))


async def test_clear_applicants_get_g_numbers_and_one_decision_goes_to_school_and_province(
    national: NationalDriver,
) -> None:
    infos = [basic("张伟"), basic("李娜", "female"), basic("王芳", "female", date(2018, 5, 2))]
    sent = batch(*infos)

    envelopes = await national.deliver(sent)

    assert targets(envelopes) == ["school:4101020001", "province:41"]
    assert envelopes[0].payload == envelopes[1].payload
    assert envelopes[0].payload["decided_by"] == "national:CN"
    outcomes = outcomes_of(envelopes[0])
    assert [o["outcome"] for o in outcomes] == ["issued"] * 3
    assert [o["registration_id"] for o in outcomes] == [str(i.registration_id) for i in sent.items]
    assert [o["student_number"] for o in outcomes] == [f"G{i.id_number}" for i in infos]
    stored = {e.student_number: e for e in await entries(national.sessions)}
    assert set(stored) == {f"G{i.id_number}" for i in infos}
    assert {(e.status, e.school_code, e.province_code) for e in stored.values()} == {
        ("enrolled", SCHOOL, "41")
    }


async def test_a_document_registered_elsewhere_is_refused_naming_only_province_and_school(
    national: NationalDriver,
) -> None:
    first = basic("张伟")
    await national.deliver(batch(first))
    again = basic("Zhang Wei", id_number=first.id_number)

    envelopes = await national.deliver(batch(again, school=ZHEJIANG_SCHOOL))

    assert targets(envelopes) == ["school:3301020001", "province:33"]
    [outcome] = outcomes_of(envelopes[0])
    assert outcome["outcome"] == "rejected" and outcome["rule"] == "duplicate_registration"
    assert outcome["reason"] == "already registered at school 4101020001 in province 41"
    assert outcome["student_number"] is None
    assert len(await entries(national.sessions)) == 1


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        ("dropout", "duplicate_registration"),
        ("suspended", "duplicate_registration"),
        # a graduate is no duplicate: the next-stage school admits them by progression
        ("graduated", "progression_required"),
        ("completed", "progression_required"),
    ],
)
async def test_an_inactive_record_still_blocks_a_new_number(
    national: NationalDriver, status: str, rule: str
) -> None:
    first = basic("张伟")
    await national.deliver(batch(first))
    async with national.sessions() as session, session.begin():
        (await session.scalars(select(RegistryEntry))).one().status = status

    [outcome] = outcomes_of(
        (await national.deliver(batch(basic("张伟", id_number=first.id_number))))[0]
    )
    assert (outcome["outcome"], outcome["rule"]) == ("rejected", rule)
    assert len(await entries(national.sessions)) == 1


async def test_the_same_document_twice_in_one_batch_issues_the_first_and_refuses_the_second(
    national: NationalDriver,
) -> None:
    first = basic("张伟")
    envelopes = await national.deliver(batch(first, basic("张 伟", id_number=first.id_number)))
    issued, refused = outcomes_of(envelopes[0])
    assert issued["outcome"] == "issued"
    assert refused["outcome"] == "rejected" and refused["rule"] == "duplicate_registration"
    assert "earlier in this batch" in refused["reason"]


async def test_same_name_gender_birth_with_another_id_is_held_for_review(
    national: NationalDriver,
) -> None:
    await national.deliver(batch(basic("张伟", birth=BORN)))
    suspect = basic("张伟", birth=BORN)  # another resident ID

    envelopes = await national.deliver(batch(suspect, school=ZHEJIANG_SCHOOL))

    [outcome] = outcomes_of(envelopes[0])
    assert outcome["outcome"] == "held_for_review"
    assert outcome["rule"] == "suspect_same_name_gender_birth"
    assert "school 4101020001 in province 41" in outcome["reason"]
    async with national.sessions() as session:
        review = (await session.scalars(select(DedupReview))).one()
    assert review.status == "open" and review.province_code == "33"
    assert review.id_number == suspect.id_number
    assert f"national review {review.review_id}" in outcome["reason"]


async def test_an_applicant_without_resident_id_resembling_a_student_is_held(
    national: NationalDriver,
) -> None:
    await national.deliver(batch(basic("Anna Lee", "female", BORN)))
    envelopes = await national.deliver(
        batch(basic("ANNA  LEE", "female", BORN, id_type=IdType.PASSPORT))
    )
    [outcome] = outcomes_of(envelopes[0])
    assert outcome["outcome"] == "held_for_review"
    assert outcome["rule"] == "suspect_no_resident_id_same_name_gender_birth"


async def test_a_later_applicant_resembling_one_issued_earlier_in_the_batch_is_held(
    national: NationalDriver,
) -> None:
    envelopes = await national.deliver(
        batch(basic("张伟", birth=BORN), basic("张伟", birth=BORN, id_type=IdType.NONE))
    )
    assert [o["outcome"] for o in outcomes_of(envelopes[0])] == ["issued", "held_for_review"]


async def test_l_numbers_are_unique_per_division_and_birth_date_across_batches_with_parity(
    national: NationalDriver,
) -> None:
    def no_id(name: str, gender: str) -> BasicInfo:
        return basic(name, gender, BORN, id_type=IdType.NONE)

    first = await national.deliver(
        batch(
            no_id("甲", "male"), no_id("乙", "female"), no_id("丙", "male"), no_id("丁", "female")
        )
    )
    # another school of the same county: the same (division, birth date) namespace
    second = await national.deliver(
        batch(no_id("戊", "male"), no_id("己", "female"), school=OTHER_SCHOOL_SAME_COUNTY)
    )

    numbers = [o["student_number"] for e in (first[0], second[0]) for o in outcomes_of(e)]
    parsed = [validate_student_number(n) for n in numbers]
    assert len(set(numbers)) == 6
    assert all(p.kind == "temporary" and p.division_code == "410102" for p in parsed)
    assert all(p.birth_date == BORN for p in parsed)
    assert [int(p.sequence) for p in parsed] == [1, 2, 3, 4, 5, 6]
    assert [p.sex for p in parsed] == ["male", "female"] * 3
    async with national.sessions() as session:
        serials = list(await session.scalars(select(TemporarySerial.serial)))
    assert sorted(serials) == [1, 2, 3, 4, 5, 6]


async def test_a_province_direct_school_numbers_under_the_county_it_is_in(
    national: NationalDriver,
) -> None:
    envelopes = await national.deliver(
        batch(basic("Tom", birth=BORN, id_type=IdType.PASSPORT), school=PROVINCE_DIRECT_SCHOOL)
    )
    assert targets(envelopes) == ["school:4100000001", "province:41"]
    [outcome] = outcomes_of(envelopes[0])
    assert outcome["student_number"].startswith("L410105" + "20180314")


async def test_a_resent_approval_is_answered_as_the_first_time_without_new_rows(
    national: NationalDriver,
) -> None:
    sent = batch(basic("张伟", birth=BORN), basic("张伟", birth=BORN))  # issued + held
    first = outcomes_of((await national.deliver(sent))[0])
    again = outcomes_of((await national.deliver(sent))[0])
    assert again == first
    assert len(await entries(national.sessions)) == 1


async def test_invalid_resident_ids_are_refused_with_the_rule_broken(
    national: NationalDriver,
) -> None:
    good = resident_id(BORN, "male")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    envelopes = await national.deliver(batch(basic("张伟", birth=BORN, id_number=bad)))
    [outcome] = outcomes_of(envelopes[0])
    assert outcome["rule"] == "invalid_resident_id" and "check character" in outcome["reason"]


async def test_only_the_schools_registry_authority_may_send_its_approvals(
    national: NationalDriver,
) -> None:
    with pytest.raises(PermanentMessageError, match="not the registry authority"):
        await national.deliver(batch(basic("张伟")), source=UnitRef(tier=Tier.PROVINCE, code="41"))
    with pytest.raises(PermanentMessageError, match="not the registry authority"):
        await national.deliver(
            batch(basic("张伟"), school=PROVINCE_DIRECT_SCHOOL),
            source=UnitRef(tier=Tier.COUNTY, code="410105"),
        )


async def test_repeated_registration_ids_make_a_batch_that_can_never_apply(
    national: NationalDriver,
) -> None:
    sent = batch(basic("张伟"))
    twice = sent.model_copy(update={"items": (sent.items[0], sent.items[0])})
    with pytest.raises(PermanentMessageError, match="more than once"):
        await national.deliver(twice)


@pytest.mark.parametrize("size", [10, 300])
async def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(
    national: NationalDriver, size: int
) -> None:
    """Set-based: the statement count does not grow with the batch (no query per student)."""
    await national.deliver(batch(*(basic(f"学生{n}", birth=BORN) for n in range(5))))
    infos = [
        basic(f"学生{n}", birth=date(2017, 1 + n % 12, 1 + n % 28), id_type=kind)
        for n in range(size)
        for kind in [IdType.RESIDENT_ID if n % 3 else IdType.NONE]
    ]
    with recorded_statements(national.sessions.kw["bind"]) as statements:
        envelopes = await national.deliver(batch(*infos))
    assert len(outcomes_of(envelopes[0])) == size
    # 6 set-based reads, one INSERT each for entries / serials (/ reviews), one INSERT …
    # SELECT for the change log (decision 0043), 2 outbox rows, one read of the school's
    # closure (N2013 art. 9)
    decide = [s for s in statements if "kernel_outbox" not in s or "INSERT" in s]
    assert len(decide) <= 13, decide
    assert sum("INSERT INTO registry_change" in s for s in decide) == 1


def test_registration_ids_are_uuids() -> None:
    assert isinstance(batch(basic("x")).items[0].registration_id, uuid.UUID)
