"""The province's non-basic statistics (decision 0039), on SQLite and PostgreSQL: counted from
its own archives for the province and every unit below; national (basic info only) and
another province are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from devtools.testing import federation_copy
from services.province.adapters.orm import Archive
from shared.resident_id import student_number_for
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.services.province.transfer_support import Province, province_service

SCHOOL = "4101020001"
EXTENDED = "/api/v1/statistics/extended"


@pytest.fixture
async def henan(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(federation_copy(tmp_path / "fed"), "41", database_url) as p:
        yield p


async def test_migrant_and_home_instruction_counted_where_the_archives_are(
    henan: Province,
) -> None:
    first = await henan.archived_student(SCHOOL, name="随迁")
    await henan.archived_student(SCHOOL, name="本地")
    async with henan.runtime.sessions() as session, session.begin():
        await session.execute(
            update(Archive)
            .where(Archive.student_number == student_number_for(first.id_number or ""))
            .values(extended={"migrant": True, "home_instruction": True})
        )

    county = await henan.client.get(EXTENDED, params={"unit": "county:410102"})
    assert county.status_code == 200, county.text
    assert county.json()["totals"] == {
        "students": 2, "migrant": 1, "home_instruction": 1, "yi_track": 0,
    }  # fmt: skip
    assert county.json()["by_school"][SCHOOL]["migrant"] == 1
    beside = await henan.client.get(EXTENDED, params={"unit": "county:410105"})
    assert beside.json()["totals"]["students"] == 0

    for caller in ("national:CN", "province:33", "county:410105"):
        refused = await henan.client.get(
            EXTENDED,
            params={"unit": "county:410102"},
            headers=auth_headers(caller, Role.APPROVER),
        )
        assert refused.status_code in (403, 404), caller


async def test_each_county_is_sent_its_own_schools_figures_once_a_day(henan: Province) -> None:
    """Decision 0047: one ``statistics.county_extended`` per county, holding what the API
    answers for that county; the periodic run sends a day once, an operator's run again."""
    archived = await henan.archived_student(SCHOOL, name="县内")
    async with henan.runtime.sessions() as session, session.begin():
        await session.execute(
            update(Archive)
            .where(Archive.student_number == student_number_for(archived.id_number or ""))
            .values(extended={"migrant": True})
        )
    operator = auth_headers("province:41", Role.OPERATOR)
    path = "/api/v1/provinces/41/operations/statistics/publish"
    sent = await henan.client.post(path, json={"period": "2026-09-01"}, headers=operator)
    assert sent.status_code == 200, sent.text
    messages = await henan.staged("statistics.county_extended")
    counties = {c.code for c in henan.runtime.federation.counties if c.province == "41"}
    assert sorted(str(e.target) for e in messages) == sorted(f"county:{c}" for c in counties)
    assert sent.json()["counties"] == len(counties)
    [mine] = [e for e in messages if e.target.code == "410102"]
    answer = (await henan.client.get(EXTENDED, params={"unit": "county:410102"})).json()
    assert mine.payload["rows"] == [
        [school, f["students"], f["migrant"], f["home_instruction"], f["yi_track"]]
        for school, f in answer["by_school"].items()
    ]
    assert mine.payload["rows"][0][:3] == [SCHOOL, 1, 1]
    others = [e for e in messages if e.target.code != "410102"]
    assert all(SCHOOL not in [r[0] for r in e.payload["rows"]] for e in others)

    # the periodic run: yesterday, once (the operator's run above was for another day)
    publisher = henan.runtime.publisher  # type: ignore[attr-defined]
    first, again = await publisher.run_once(), await publisher.run_once()
    assert [r.counties for r in first] == [len(counties)] and again == []
    refused = await henan.client.post(
        path, json={}, headers=auth_headers("province:41", Role.APPROVER)
    )
    assert refused.status_code == 403
