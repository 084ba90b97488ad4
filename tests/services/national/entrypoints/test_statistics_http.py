"""The statistics endpoints of national (SQLite, PostgreSQL): each level reads its own unit and
the units below, nothing beside; small counts hidden from a superior; the xlsx download holds
the JSON's numbers; refusals carry their rule (decision 0039)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from services.national.config import NationalSettings
from shared.security.principal import Role
from shared.security.testing import Minter
from tests.services.national.builders import (
    SCHOOL,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    basic,
    batch,
)

HEADCOUNT = "/api/v1/statistics/headcount"


@pytest.fixture
async def app(tmp_path: Path, national_url: str) -> AsyncIterator[FastAPI]:
    config = federation_copy(tmp_path)
    settings = NationalSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=national_url,
        today=date(2026, 9, 7),
        deadline_sweep_interval=0,
    )
    application = build_app(settings)
    try:
        yield application
    finally:
        await application.state.runtime.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://national"
    ) as http:
        yield http


minter = Minter()


def as_(unit: str) -> dict[str, str]:
    return minter.headers(unit, Role.APPROVER)


async def test_each_level_reads_itself_and_below_and_small_counts_stay_with_the_unit(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    henan = [basic(f"河南{i}", grade=1 + i % 2) for i in range(6)]
    await national.deliver(batch(*henan, school=SCHOOL))
    await national.deliver(batch(basic("浙江", grade=3), school=ZHEJIANG_SCHOOL))

    county = await client.get(
        HEADCOUNT, params={"unit": "county:410102", "by": "grade"}, headers=as_("county:410102")
    )
    assert county.status_code == 200, county.text
    assert county.json()["total"] == 6 and not county.json()["suppressed"]
    assert [(r["keys"]["grade"], r["students"]) for r in county.json()["rows"]] == [(1, 3), (2, 3)]

    school = await client.get(
        HEADCOUNT, params={"unit": f"school:{SCHOOL}", "by": "grade"}, headers=as_("county:410102")
    )
    assert [r["students"] for r in school.json()["rows"]] == [None, None]  # 3 < 5: the school's
    assert school.json()["total"] == 6 and school.json()["suppressed"]

    national_view = await client.get(
        HEADCOUNT, params={"unit": "CN", "by": "province"}, headers=as_("national:CN")
    )
    assert national_view.status_code == 422  # a unit is tier:code
    national_view = await client.get(
        HEADCOUNT, params={"unit": "national:CN", "by": "province"}, headers=as_("national:CN")
    )
    assert [(r["keys"]["province"], r["students"]) for r in national_view.json()["rows"]] == [
        ("33", 1),
        ("41", 6),
    ]

    for caller, unit in (
        ("county:410105", "county:410102"),  # a county beside
        ("province:33", "county:410102"),  # another province
        ("province:33", "province:41"),
        ("county:410102", "province:41"),  # the level above
    ):
        refused = await client.get(HEADCOUNT, params={"unit": unit}, headers=as_(caller))
        assert refused.status_code == 404, (caller, unit)
        assert refused.json()["rule"] == "unit_not_visible"

    bad = await client.get(
        HEADCOUNT, params={"unit": "county:410102", "by": "hukou"}, headers=as_("county:410102")
    )
    assert (bad.status_code, bad.json()["rule"]) == (422, "statistics_bad_dimension")
    zh = await client.get(
        HEADCOUNT,
        params={"unit": "county:410102", "by": "hukou"},
        headers=as_("county:410102") | {"Accept-Language": "zh-CN"},
    )
    assert "统计维度" in zh.json()["message_zh"]


async def test_the_xlsx_download_holds_the_same_numbers(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    await national.deliver(batch(*[basic(f"下载{i}", grade=2) for i in range(5)], school=SCHOOL))
    params = {"unit": "county:410102", "by": "grade,status"}
    json_rows = (await client.get(HEADCOUNT, params=params, headers=as_("county:410102"))).json()
    sheet = await client.get(
        HEADCOUNT, params=params | {"format": "xlsx"}, headers=as_("county:410102")
    )
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("grade", "status", "students")
    assert rows[1:-1] == [
        (r["keys"]["grade"], r["keys"]["status"], r["students"]) for r in json_rows["rows"]
    ]
    assert rows[-1][-1] == json_rows["total"] == 5

    today = datetime.now(UTC).date()
    moved = await client.get(
        "/api/v1/statistics/movements",
        params={
            "unit": "county:410102",
            "from": str(today - timedelta(days=1)),
            "to": str(today + timedelta(days=1)),
        },
        headers=as_("county:410102"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["counts"]["registered"] >= 5
    backwards = await client.get(
        "/api/v1/statistics/movements",
        params={"unit": "county:410102", "from": "2026-12-31", "to": "2026-01-01"},
        headers=as_("county:410102"),
    )
    assert (backwards.status_code, backwards.json()["rule"]) == (422, "statistics_bad_period")


async def test_the_operator_rolls_up_and_judges_a_week(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    await national.deliver(batch(*[basic(f"汇总{i}", grade=1) for i in range(3)], school=SCHOOL))
    operator = minter.headers("national:CN", Role.OPERATOR)
    now = datetime.now(UTC).isoformat()
    first = await client.post(
        "/api/v1/operations/statistics/rollup", json={"until": now}, headers=operator
    )
    assert first.status_code == 200, first.text
    assert (first.json()["full"], first.json()["periods_begun"]) == (True, 3)
    again = await client.post(
        "/api/v1/operations/statistics/rollup", json={"until": now}, headers=operator
    )
    assert (again.json()["full"], again.json()["periods_begun"]) == (False, 0)
    counted = await client.get(
        HEADCOUNT, params={"unit": "county:410102"}, headers=as_("county:410102")
    )
    assert counted.json()["total"] == 3
    monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    judged = await client.post(
        "/api/v1/operations/statistics/early-warning",
        json={"week_start": monday.isoformat()},
        headers=operator,
    )
    assert judged.status_code == 200 and judged.json()["items"] == []  # 3 is under the floor
    refused = await client.post(
        "/api/v1/operations/statistics/rollup", json={}, headers=as_("county:410102")
    )
    assert refused.status_code in (403, 404)


SCHOOLS = "/api/v1/statistics/schools"
# 60 more schools in county 410102 (beside its 3): more than a page of 50
MORE_SCHOOLS = [
    {
        "code": f"410102{5000 + i:04d}",
        "name": f"分页小学{i:02d}" if i % 2 else f"检索中学{i:02d}",
        "county": "410102",
        "instance": "school-41",
    }
    for i in range(60)
]


@pytest.fixture
async def many(tmp_path: Path, national_url: str) -> AsyncIterator[httpx.AsyncClient]:
    config = federation_copy(tmp_path, schools=MORE_SCHOOLS)
    application = build_app(
        NationalSettings(
            instance=instance_name(config, "national"),
            federation_config=config,
            database_url=national_url,
            today=date(2026, 9, 7),
            deadline_sweep_interval=0,
        )
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://national"
        ) as http:
            yield http
    finally:
        await application.state.runtime.engine.dispose()


async def test_a_countys_schools_come_a_page_at_a_time_with_the_headcounts_numbers(
    many: httpx.AsyncClient, national: NationalDriver
) -> None:
    await national.deliver(batch(*[basic(f"分页{i}") for i in range(6)], school=SCHOOL))
    operator = minter.headers("national:CN", Role.OPERATOR)
    rolled = await many.post(
        "/api/v1/operations/statistics/rollup",
        json={"until": datetime.now(UTC).isoformat()},
        headers=operator,
    )
    assert rolled.status_code == 200, rolled.text
    # after the roll-up: counted from the roll-up and the periods since, alike
    await national.deliver(batch(basic("分页之后"), school=SCHOOL))
    await national.deliver(batch(*[basic(f"同县{i}") for i in range(2)], school="4101020002"))
    county = as_("county:410102")

    pages, after = [], None
    while True:
        answer = await many.get(
            SCHOOLS,
            params={"unit": "county:410102"} | ({"after": after} if after else {}),
            headers=county,
        )
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        after = answer.json()["next_after"]
        if after is None:
            break
    assert [len(p["rows"]) for p in pages] == [50, 13]
    assert {p["matching"] for p in pages} == {63}
    listed = [r for p in pages for r in p["rows"]]
    codes = [r["code"] for r in listed]
    assert codes == sorted(codes) and len(set(codes)) == 63  # every school once, by code
    by_school = await many.get(
        HEADCOUNT, params={"unit": "county:410102", "by": "school"}, headers=county
    )
    assert (
        {r["code"]: r["students"] for r in listed if r["students"]}
        == {r["keys"]["school"]: r["students"] for r in by_school.json()["rows"]}
        == {SCHOOL: 7, "4101020002": 2}
    )
    assert next(r for r in listed if r["code"] == "4101025000")["name"] == "检索中学00"

    by_name = await many.get(SCHOOLS, params={"unit": "county:410102", "q": "检索"}, headers=county)
    assert by_name.json()["matching"] == 30
    assert all("检索" in r["name"] for r in by_name.json()["rows"])
    by_code = await many.get(
        SCHOOLS, params={"unit": "county:410102", "q": "410102000"}, headers=county
    )
    assert [r["code"] for r in by_code.json()["rows"]] == [SCHOOL, "4101020002", "4101020003"]

    above = await many.get(SCHOOLS, params={"unit": "county:410102"}, headers=as_("province:41"))
    assert above.json()["suppressed"]
    assert {r["code"]: r["students"] for r in above.json()["rows"][:2]} == {
        SCHOOL: 7,
        "4101020002": None,  # 2 < 5: the county's own figure
    }
    beside = await many.get(SCHOOLS, params={"unit": "county:410102"}, headers=as_("county:410105"))
    assert (beside.status_code, beside.json()["rule"]) == (404, "unit_not_visible")
