"""A school run by a province or a city is merged or closed at its authority (N2013 art. 9;
decision 0049), on SQLite and PostgreSQL: the province instance serves the route of the
province and of each city it hosts, each operator closes only the schools its own unit runs,
one ``school.merged`` goes to national naming the operator, and the report adds up national's
batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.province.bootstrap import build_app
from shared.contracts.decider import Decider
from shared.contracts.merger import RefusedStudent, SchoolMergedApplied
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.components.approval_desk.support import deliver, migrate, settings_for, staged

Service = tuple[ServiceRuntime, httpx.AsyncClient]

HENAN_RUN = "4100000001"  # 河南省实验中学: the province is its registry authority
HENAN_COUNTY_RUN, HENAN_OTHER = "4101020001", "4101050001"
CITY_RUN, CITY_COUNTY_RUN = "5134010003", "5134010001"  # Liangshan's, and county 513401's


async def _service(tmp_path: Path, database_url: str, instance: str) -> AsyncIterator[Service]:
    await migrate("province", database_url)
    config = federation_copy(tmp_path / "federation")
    app = build_app(settings_for(config, instance, database_url, DEFAULT_AMQP_URL))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://province"
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


@pytest.fixture
async def henan(tmp_path: Path, database_url: str) -> AsyncIterator[Service]:
    async for service in _service(tmp_path, database_url, "province-41"):
        yield service


@pytest.fixture
async def sichuan(tmp_path: Path, database_url: str) -> AsyncIterator[Service]:
    async for service in _service(tmp_path, database_url, "province-51"):
        yield service


def body(from_school: str, to_school: str, **changes: str) -> dict[str, str]:
    return {
        "from_school": from_school,
        "to_school": to_school,
        "kind": "merged",
        "closed_on": "2026-09-07",
    } | changes


def batch_of(
    merger_id: str, from_school: str, to_school: str, decider: Decider, number: int, of: int
) -> SchoolMergedApplied:
    refused = RefusedStudent(
        student_number="G" + "4" * 18, rule="school_merger_held", article="N2013 art. 9"
    )
    return SchoolMergedApplied(
        merger_id=uuid.UUID(merger_id),
        from_school=from_school,
        to_school=to_school,
        kind="merged",
        closed_on=date(2026, 9, 7),
        applied_at=datetime.now(UTC),
        decider=decider,
        batch=number,
        batches=of,
        refused=(refused,) if number == of else (),
    )


async def test_the_province_operator_merges_a_school_the_province_runs(henan: Service) -> None:
    runtime, client = henan
    path = "/api/v1/provinces/41/school-mergers"
    operator = auth_headers("province:41", Role.OPERATOR, username="qian.shengting")
    posted = await client.post(path, json=body(HENAN_RUN, HENAN_OTHER), headers=operator)
    assert posted.status_code == 202, posted.text
    merger_id = posted.json()["merger_id"]
    assert posted.json()["authority_unit"] == "province:41"
    [sent] = await staged(runtime, "school.merged")
    assert (str(sent.source), str(sent.target)) == ("province:41", "national:CN")
    assert sent.payload["decider"] == {
        "account": "qian.shengting",
        "unit": "province:41",
        "rule": None,
    }
    assert (sent.payload["from_school"], sent.payload["to_school"]) == (HENAN_RUN, HENAN_OTHER)

    # national's two batches, told to the province (the authority and the archives' province)
    decider = Decider(account="qian.shengting", unit="province:41")
    province = UnitRef(tier=Tier.PROVINCE, code="41")
    for number in (1, 2):
        applied = batch_of(merger_id, HENAN_RUN, HENAN_OTHER, decider, number, 2)
        await deliver(runtime, applied, source=NATIONAL, target=province)
        report = (await client.get(f"{path}/{merger_id}", headers=operator)).json()
        assert report["status"] == ("applied" if number == 2 else "requested")
    assert (report["moved"], report["refused"]) == (0, 1)
    listed = (await client.get(path, headers=operator)).json()
    assert [m["merger_id"] for m in listed["items"]] == [merger_id]

    again = await client.post(path, json=body(HENAN_RUN, HENAN_OTHER), headers=operator)
    assert (again.status_code, again.json()["code"]) == (409, "school_closed")

    # a county-run school's merger, told to the province for its archives: no report here
    other = Decider(account="zhao.yunwei", unit="county:410102")
    county_merger = batch_of(str(uuid.uuid4()), HENAN_COUNTY_RUN, HENAN_OTHER, other, 1, 1)
    await deliver(runtime, county_merger, source=NATIONAL, target=province)
    assert len((await client.get(path, headers=operator)).json()["items"]) == 1


async def test_each_authority_closes_only_the_schools_it_runs(henan: Service) -> None:
    runtime, client = henan
    path = "/api/v1/provinces/41/school-mergers"
    operator = auth_headers("province:41", Role.OPERATOR)
    county_run = await client.post(
        path,
        json=body(HENAN_COUNTY_RUN, HENAN_OTHER),
        headers=operator | {"Accept-Language": "zh-CN"},
    )
    assert (county_run.status_code, county_run.json()["code"]) == (
        422,
        "school_not_run_by_authority",
    )
    assert "学籍主管部门" in county_run.json()["message_zh"]
    approver = auth_headers("province:41", Role.APPROVER)
    assert (
        await client.post(path, json=body(HENAN_RUN, HENAN_OTHER), headers=approver)
    ).status_code == 403
    county = auth_headers("county:410105", Role.OPERATOR)  # where the school stands: not its own
    assert (
        await client.post(path, json=body(HENAN_RUN, HENAN_OTHER), headers=county)
    ).status_code == 404
    beside = auth_headers("province:33", Role.OPERATOR)
    served = await client.post(
        "/api/v1/provinces/33/school-mergers", json=body(HENAN_RUN, HENAN_OTHER), headers=beside
    )
    assert served.status_code == 404
    assert await staged(runtime, "school.merged") == []


async def test_a_city_merges_a_school_it_runs_at_its_provinces_instance(sichuan: Service) -> None:
    runtime, client = sichuan
    path = "/api/v1/cities/5134/school-mergers"
    city = auth_headers("city:5134", Role.OPERATOR, username="a.yi")
    refused = await client.post(path, json=body(CITY_COUNTY_RUN, CITY_RUN), headers=city)
    assert (refused.status_code, refused.json()["code"]) == (422, "school_not_run_by_authority")
    province = auth_headers("province:51", Role.OPERATOR)  # the province does not run it
    on_city_route = await client.post(path, json=body(CITY_RUN, CITY_COUNTY_RUN), headers=province)
    assert on_city_route.status_code == 404
    on_own_route = await client.post(
        "/api/v1/provinces/51/school-mergers",
        json=body(CITY_RUN, CITY_COUNTY_RUN),
        headers=province,
    )
    assert on_own_route.json()["code"] == "school_not_run_by_authority"

    posted = await client.post(path, json=body(CITY_RUN, CITY_COUNTY_RUN), headers=city)
    assert posted.status_code == 202, posted.text
    [sent] = await staged(runtime, "school.merged")
    assert (str(sent.source), sent.payload["decider"]["unit"]) == ("city:5134", "city:5134")
    applied = batch_of(
        posted.json()["merger_id"],
        CITY_RUN,
        CITY_COUNTY_RUN,
        Decider(account="a.yi", unit="city:5134"),
        1,
        1,
    )
    await deliver(runtime, applied, source=NATIONAL, target=UnitRef(tier=Tier.CITY, code="5134"))
    report = (await client.get(f"{path}/{posted.json()['merger_id']}", headers=city)).json()
    assert (report["status"], report["refused"]) == ("applied", 1)
