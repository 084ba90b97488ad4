"""A city / prefecture's desk, served by its province's instance (decision 0034), on SQLite
and PostgreSQL: the registry authority of the schools it runs (N2013 art. 3) and the level
its schools file with (LS 2(二)5, LS 6). Its task list, decisions and bulk decisions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.province.bootstrap import build_app
from shared.contracts.filing import FilingSubmitted
from shared.federation.config import NATIONAL, Tier
from shared.messaging.errors import PermanentMessageError
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import FreshAuthHeaders, auth_headers
from tests.components.approval_desk.support import (
    basic,
    batch,
    deliver,
    migrate,
    settings_for,
    staged,
    unit,
)

LIANGSHAN = unit(Tier.CITY, "5134")
CITY_RUN = "5134010003"  # 凉山州民族中学: its registry authority is the prefecture
COUNTY_RUN = "5134010001"  # 西昌市第一小学: county 513401's, inside the prefecture
CHENGDU = "5101040001"


@pytest.fixture
async def sichuan(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    """The province-51 service (hosting city 5134) on a migrated database; messages are
    applied through its handlers, what it emits stays in its outbox."""
    await migrate("province", database_url)
    config = federation_copy(tmp_path / "federation")
    app = build_app(settings_for(config, "province-51", database_url, DEFAULT_AMQP_URL))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://province"
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


CITY = FreshAuthHeaders("city:5134")


async def test_a_city_run_schools_batch_is_the_citys_task_and_its_approval_goes_to_national(
    sichuan: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = sichuan
    submitted = batch(CITY_RUN, size=2)
    await deliver(runtime, submitted, source=unit(Tier.SCHOOL, CITY_RUN), target=LIANGSHAN)

    page = (await client.get("/api/v1/cities/5134/tasks", headers=CITY)).json()
    [task] = page["items"]
    assert (task["authority_unit"], task["school_code"], task["kind"]) == (
        "city:5134",
        CITY_RUN,
        "registration_batch",
    )
    # the province above reads the city's list; a county of the city and another province
    # do not, and a city no instance of this province hosts is not served here
    above = await client.get("/api/v1/cities/5134/tasks", headers=auth_headers("province:51"))
    assert above.status_code == 200 and above.json()["total"] == 1
    county = await client.get("/api/v1/cities/5134/tasks", headers=auth_headers("county:513401"))
    assert county.status_code == 404
    henan = await client.get("/api/v1/cities/5134/tasks", headers=auth_headers("province:41"))
    assert henan.status_code == 404
    unknown = await client.get("/api/v1/cities/4101/tasks", headers=auth_headers("city:4101"))
    assert (unknown.status_code, unknown.json()["rule"]) == (404, "unit_not_served")
    # nor is the city's task the province's own
    assert (
        await client.get("/api/v1/provinces/51/tasks", headers=auth_headers("province:51"))
    ).json()["total"] == 0

    decided = await client.post(
        f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "approve"}, headers=CITY
    )
    assert decided.status_code == 200, decided.text
    [approved] = await staged(runtime, "registration.batch_approved")
    assert (approved.source, approved.target) == (LIANGSHAN, NATIONAL)
    assert approved.payload["authority"] == "city:5134"


async def test_a_county_schools_batch_is_refused_at_the_city(
    sichuan: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, _ = sichuan
    submitted = batch(COUNTY_RUN, size=1)
    with pytest.raises(PermanentMessageError):
        await deliver(runtime, submitted, source=unit(Tier.SCHOOL, COUNTY_RUN), target=LIANGSHAN)


def filed(school: str, *numbers: str, kind: str = "graduating_suspension") -> FilingSubmitted:
    return FilingSubmitted(
        filing_id=uuid.uuid4(),
        kind=kind,  # type: ignore[arg-type]
        school_code=school,
        subject_id=uuid.uuid4(),
        student_numbers=numbers,
        grade=6,
        effective_on=date(2026, 9, 1),
        due_on=date(2026, 9, 30) if kind == "yi_track_roster" else None,
        article="LS 2(二)5" if kind == "graduating_suspension" else "LS 6",
    )


async def test_filings_are_the_citys_tasks_decided_in_bulk_and_nothing_waits_on_them(
    sichuan: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = sichuan
    suspension = filed(COUNTY_RUN, "G513401201403140011")
    roster = filed(CITY_RUN, "G513401201103140011", "G513401201103150012", kind="yi_track_roster")
    for filing in (suspension, roster, suspension):  # a re-sent filing opens no second task
        await deliver(runtime, filing, source=NATIONAL, target=LIANGSHAN)

    page = (await client.get("/api/v1/cities/5134/tasks?kind=filing", headers=CITY)).json()
    assert page["total"] == 2
    by_school = {t["school_code"]: t for t in page["items"]}
    assert by_school[CITY_RUN]["due_on"] == "2026-09-30"
    assert by_school[CITY_RUN]["item_count"] == 2
    assert by_school[COUNTY_RUN]["due_on"] is None
    read = await client.get(f"/api/v1/tasks/{by_school[CITY_RUN]['task_id']}", headers=CITY)
    assert read.json()["filing"]["student_numbers"] == list(roster.student_numbers)
    assert read.json()["filing"]["article"] == "LS 6"

    body = {
        "decisions": [
            {"task_id": t["task_id"], "decision": "approve", "reason": "已审核备案"}
            for t in page["items"]
        ]
    }
    response = await client.post("/api/v1/tasks/decisions", json=body, headers=CITY)
    assert response.status_code == 200, response.text
    assert response.json()["decided"] == 2
    left = (await client.get("/api/v1/cities/5134/tasks?status=open", headers=CITY)).json()
    assert left["total"] == 0
    assert await staged(runtime) == []


async def test_a_filing_about_a_school_outside_the_city_is_refused(
    sichuan: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, _ = sichuan
    with pytest.raises(PermanentMessageError):
        await deliver(
            runtime, filed(CHENGDU, "G510104201403140011"), source=NATIONAL, target=LIANGSHAN
        )


YI_SENIOR = "5134010004"  # 西昌市民族中学: county-run, Yi-track senior school


async def test_a_yi_track_senior_first_year_list_is_approved_by_the_city(
    sichuan: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """LS 6: 审核通过后方能注册学籍 — the list goes to the prefecture, whose approval sends
    it to national; any other batch of the school stays with its county."""
    runtime, client = sichuan
    listed = batch(YI_SENIOR, *(basic(grade=10, birth=date(2010, 3, 1)) for _ in range(2)))
    await deliver(runtime, listed, source=unit(Tier.SCHOOL, YI_SENIOR), target=LIANGSHAN)
    [task] = (await client.get("/api/v1/cities/5134/tasks", headers=CITY)).json()["items"]
    assert (task["school_code"], task["item_count"]) == (YI_SENIOR, 2)
    decided = await client.post(
        f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "approve"}, headers=CITY
    )
    assert decided.status_code == 200, decided.text
    [approved] = await staged(runtime, "registration.batch_approved")
    assert approved.payload["authority"] == "city:5134"

    second_year = batch(YI_SENIOR, basic(grade=11, birth=date(2009, 3, 1)))
    with pytest.raises(PermanentMessageError):
        await deliver(runtime, second_year, source=unit(Tier.SCHOOL, YI_SENIOR), target=LIANGSHAN)
