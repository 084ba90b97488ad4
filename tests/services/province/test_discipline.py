"""Discipline records in the archive (ZJ arts. 22-23), on SQLite and PostgreSQL: recorded by
the school with a term, lifted once the term is served, read by the transfer discipline
check (HA art. 11(四)), and all removed at graduation. Every refusal names its rule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.testing import federation_copy
from services.province.domain.discipline import (
    imposition_refusal,
    lifting_refusal,
    term_ends_on,
)
from shared.contracts.graduation import GraduationBatchDecided, GraduationItem
from tests.services.province.test_transfers import decided, province_step
from tests.services.province.transfer_support import (
    JINSHUI_PRIMARY,
    ZHONGYUAN_PRIMARY,
    Province,
    number_of,
    province_service,
)

SCHOOL = ZHONGYUAN_PRIMARY  # today is 2026-09-07 (transfer_support.TODAY)


@pytest.fixture
async def henan(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(federation_copy(tmp_path / "fed"), "41", database_url) as p:
        yield p


def path(number: str, school: str = SCHOOL) -> str:
    return f"/api/v1/schools/{school}/archives/{number}/discipline-records"


async def record(henan: Province, number: str, **body: Any) -> httpx.Response:
    payload = {"kind": "warning", "reason": "课堂上多次扰乱秩序", "imposed_on": "2026-01-05"}
    return await henan.client.post(path(number), json={**payload, **body})


async def lift(henan: Province, number: str, record_id: str, on: str | None) -> httpx.Response:
    body = {} if on is None else {"lifted_on": on}
    return await henan.client.post(f"{path(number)}/{record_id}/lifting", json=body)


# -- the rules -------------------------------------------------------------------------------


def test_the_term_is_six_months_and_may_only_be_shortened_with_a_reason() -> None:
    today = date(2026, 9, 7)
    assert term_ends_on(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert imposition_refusal(date(2026, 3, 1), 6, None, today) is None
    assert imposition_refusal(date(2026, 3, 1), 3, "毕业年级", today) is None
    assert imposition_refusal(date(2026, 3, 1), 7, None, today).rule == "discipline_term_too_long"  # type: ignore[union-attr]
    short = imposition_refusal(date(2026, 3, 1), 3, " ", today)
    assert short is not None and short.rule == "discipline_shortened_without_reason"
    future = imposition_refusal(date(2026, 9, 8), 6, None, today)
    assert future is not None and future.rule == "discipline_in_future"


def test_a_record_is_lifted_once_and_not_before_its_term() -> None:
    ends = date(2026, 7, 5)
    assert lifting_refusal(ends, False, date(2026, 7, 5)) is None
    early = lifting_refusal(ends, False, date(2026, 7, 4))
    assert early is not None and early.rule == "discipline_term_not_served"
    twice = lifting_refusal(ends, True, date(2026, 9, 1))
    assert twice is not None and twice.rule == "discipline_already_lifted"


# -- through the province's API ----------------------------------------------------------------


async def test_a_school_records_and_lifts_a_discipline_record(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    created = await record(henan, number)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["term_months"], body["term_ends_on"], body["in_force"]) == (6, "2026-07-05", True)

    early = await lift(henan, number, body["record_id"], "2026-07-01")
    assert (early.status_code, early.json()["rule"]) == (422, "discipline_term_not_served")
    lifted = await lift(henan, number, body["record_id"], None)  # today: term served
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["lifted_on"], lifted.json()["in_force"]) == ("2026-09-07", False)
    again = await lift(henan, number, body["record_id"], None)
    assert (again.status_code, again.json()["rule"]) == (409, "discipline_already_lifted")
    unknown = await lift(henan, number, str(uuid.uuid4()), None)
    assert (unknown.status_code, unknown.json()["rule"]) == (404, "discipline_record_not_found")

    [listed] = (await henan.client.get(path(number))).json()
    assert (listed["record_id"], listed["in_force"]) == (body["record_id"], False)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"term_months": 7}, "discipline_term_too_long"),
        ({"term_months": 3}, "discipline_shortened_without_reason"),
        ({"imposed_on": "2026-09-08"}, "discipline_in_future"),
    ],
)
async def test_refused_records_name_their_rule(
    henan: Province, body: dict[str, Any], rule: str
) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    response = await record(henan, number, **body)
    assert (response.status_code, response.json()["rule"]) == (422, rule)
    assert (await henan.client.get(path(number))).json() == []


async def test_only_the_school_holding_the_archive_records(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    other = await henan.client.post(
        path(number, JINSHUI_PRIMARY),
        json={"kind": "warning", "reason": "x", "imposed_on": "2026-01-05"},
    )
    assert (other.status_code, other.json()["rule"]) == (404, "archive_not_found")


async def test_the_transfer_check_sees_a_record_until_it_is_lifted(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    created = (await record(henan, number, kind="demerit")).json()
    await henan.deliver(province_step("sending_province", number))
    refused = await decided(henan)
    assert (refused["decision"], refused["rule"]) == ("reject", "under_discipline")
    assert "扰乱" not in refused["reason"]  # the record itself never travels

    await lift(henan, number, created["record_id"], None)
    other = number_of(await henan.archived_student(SCHOOL))
    await record(henan, other, imposed_on="2025-12-01")
    await henan.client.post(
        f"{path(other)}/{(await henan.client.get(path(other))).json()[0]['record_id']}/lifting",
        json={},
    )
    for student in (number, other):
        before = len(await henan.staged("transfer.step_decided"))
        await henan.deliver(province_step("sending_province", student))
        sent = await henan.staged("transfer.step_decided")
        assert len(sent) == before + 1 and sent[-1].payload["decision"] == "approve"


# -- graduation ------------------------------------------------------------------------------


def graduation(outcome: str, *numbers: str, status: str = "approved") -> GraduationBatchDecided:
    return GraduationBatchDecided(
        batch_id=uuid.uuid4(),
        school_code=SCHOOL,
        graduation_year=2027,
        outcome=status,  # type: ignore[arg-type]
        decided_by="national:CN" if status == "approved" else "county:410102",
        applied=tuple(
            GraduationItem(student_number=n, outcome=outcome)  # type: ignore[arg-type]
            for n in numbers
        )
        if status == "approved"
        else (),
        reason=None if status == "approved" else "名单不全",
    )


async def test_graduation_removes_every_discipline_record(henan: Province) -> None:
    graduate = number_of(await henan.archived_student(SCHOOL))
    stays = number_of(await henan.archived_student(SCHOOL))
    served = (await record(henan, graduate)).json()
    await lift(henan, graduate, served["record_id"], None)
    await record(henan, graduate, kind="serious_warning", imposed_on="2026-08-01")
    await record(henan, stays)

    await henan.deliver(graduation("incomplete", stays, status="rejected"))
    assert len((await henan.client.get(path(stays))).json()) == 1

    message = graduation("graduated", graduate)
    await henan.deliver(message)
    await henan.deliver(message)  # a second copy adds nothing

    assert (await henan.client.get(path(graduate))).json() == []
    archive = (await henan.client.get(f"/api/v1/schools/{SCHOOL}/archives/{graduate}")).json()
    assert archive["status"] == "active"  # it follows the student to the next stage
    assert [e for e in archive["entries"] if e["section"] == "discipline"] == []
    [entry] = [e for e in archive["entries"] if e["kind"] == "graduation"]
    assert entry["data"]["outcome"] == "graduated"
    assert entry["data"]["discipline_entries_removed"] == 3  # two records and a lifting
    assert len((await henan.client.get(path(stays))).json()) == 1
