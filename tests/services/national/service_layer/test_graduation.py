"""A graduating list applied at national on a real database (SQLite, PostgreSQL): set-based,
refusals student by student with their rule, the promotion never touches a graduate, and a
graduate is never rolled back."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.national.service_layer.promotion import run_promotion
from shared.contracts.graduation import GraduationBatchApproved, GraduationItem
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    FEDERATION,
    HENAN_OTHER_COUNTY,
    SCHOOL,
    NationalDriver,
    authority_of,
    enrol,
    of_type,
    transfer_request,
)
from tests.services.national.service_layer.test_promotion import NOW


def approved(*items: tuple[str, str], school: str = SCHOOL) -> GraduationBatchApproved:
    return GraduationBatchApproved(
        batch_id=uuid.uuid4(),
        school_code=school,
        graduation_year=2027,
        authority=str(authority_of(school)),
        items=tuple(GraduationItem(student_number=n, outcome=o) for n, o in items),  # type: ignore[arg-type]
    )


def decided(envelopes: list[Envelope]) -> list[Envelope]:
    return of_type(envelopes, "graduation.batch_decided")


async def test_an_approved_list_is_applied_and_school_and_province_are_told(
    national: NationalDriver,
) -> None:
    a = await enrol(national, grade=6, name="张一")
    b = await enrol(national, grade=6, name="张二")
    c = await enrol(national, grade=3, name="张三")
    envelopes = await national.deliver(
        approved((a, "graduated"), (b, "completed"), (c, "incomplete"))
    )

    assert [str(e.target) for e in decided(envelopes)] == [f"school:{SCHOOL}", "province:41"]
    payload = decided(envelopes)[0].payload
    assert payload["outcome"] == "approved" and payload["refused"] == []
    assert {i["student_number"]: i["outcome"] for i in payload["applied"]} == {
        a: "graduated",
        b: "completed",
        c: "incomplete",
    }
    assert [(await national.entry(n)).status for n in (a, b, c)] == [
        "graduated",
        "completed",
        "incomplete",
    ]


async def test_refusals_are_per_student_and_name_their_rule(national: NationalDriver) -> None:
    ok = await enrol(national, grade=6, name="李一")
    young = await enrol(national, grade=5, name="李二")
    elsewhere = await enrol(national, HENAN_OTHER_COUNTY, grade=6, name="李三")
    away = await enrol(national, grade=6, name="李四")
    await national.set_status(away, "suspended")
    envelopes = await national.deliver(
        approved(
            (ok, "graduated"), (young, "graduated"), (elsewhere, "graduated"), (away, "graduated")
        )
    )
    payload = decided(envelopes)[0].payload
    assert [i["student_number"] for i in payload["applied"]] == [ok]
    assert {r["student_number"]: r["rule"] for r in payload["refused"]} == {
        young: "not_graduating_grade",
        elsewhere: "not_registered_at_school",
        away: "status_change_not_allowed",
    }
    assert (await national.entry(young)).status == "enrolled"
    assert (await national.entry(elsewhere)).status == "enrolled"


async def test_a_student_held_by_a_transfer_is_not_graduated(national: NationalDriver) -> None:
    held = await enrol(national, grade=6, name="王一")
    await national.request(transfer_request(held, grade=6))
    assert (await national.entry(held)).active_transfer_id is not None

    envelopes = await national.deliver(approved((held, "graduated")))

    [refusal] = decided(envelopes)[0].payload["refused"]
    assert refusal["rule"] == "transfer_in_progress"
    assert (await national.entry(held)).status == "enrolled"


async def test_a_graduate_is_never_rolled_back_nor_promoted(national: NationalDriver) -> None:
    graduate = await enrol(national, grade=6, name="赵一")
    await national.deliver(approved((graduate, "graduated")))

    again = await national.deliver(approved((graduate, "completed")))
    [refusal] = decided(again)[0].payload["refused"]
    assert refusal["rule"] == "graduation_is_final"

    async with national.sessions() as session, session.begin():
        await run_promotion(session, FEDERATION, 2026, date(2026, 8, 10), NOW)
    entry = await national.entry(graduate)
    assert (entry.status, entry.grade) == ("graduated", 6)


async def test_a_list_from_a_unit_that_is_not_the_authority_is_dead_lettered(
    national: NationalDriver,
) -> None:
    number = await enrol(national, grade=6, name="钱一")
    with pytest.raises(PermanentMessageError):
        await national.deliver(
            approved((number, "graduated")), source=UnitRef(tier=Tier.COUNTY, code="410105")
        )
    assert (await national.entry(number)).status == "enrolled"
