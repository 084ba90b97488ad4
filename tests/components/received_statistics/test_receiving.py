"""A county keeps the figures national and its province send it, one row per (unit, period,
kind) — a re-delivery or a re-run replaces, never adds; an older computation never replaces a
newer one — and serves them to its own officers only; figures of another county, or from
another province, are refused (decision 0047). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from shared.contracts.statistics import CountyExtended, CountyFigures, MovementCounts
from shared.federation.config import NATIONAL, Tier
from shared.messaging.errors import PermanentMessageError
from shared.messaging.signing import SecurityRefusal
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import auth_headers
from tests.components.approval_desk.support import deliver, migrate, settings_for, unit

ZHONGYUAN = unit(Tier.COUNTY, "410102")
HENAN, ZHEJIANG = unit(Tier.PROVINCE, "41"), unit(Tier.PROVINCE, "33")
DAY = date(2026, 9, 6)
AT = datetime(2026, 9, 6, 16, 10, tzinfo=UTC)


@pytest.fixture
async def county(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    await migrate("county", database_url)
    config = federation_copy(tmp_path / "federation")
    app = build_app(settings_for(config, "county-41", database_url, DEFAULT_AMQP_URL))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://county"
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


def basic(students: int, *, at: datetime = AT, school: str = "4101020001") -> CountyFigures:
    return CountyFigures(
        county_code="410102",
        period=DAY,
        computed_at=at,
        as_of=datetime(2026, 9, 6, 15, 59, 59, tzinfo=UTC),
        rows=((school, 3, "female", "enrolled", students), (school, 3, "male", "suspended", 1)),
        movements=MovementCounts(
            counts={"registered": 2},
            transfers={"in": {"within_county": 0}, "out": {"within_county": 0}},
            other_provinces={"in": {}, "out": {}},
        ),
    )


def extended(migrant: int, county: str = "410102") -> CountyExtended:
    return CountyExtended(
        county_code=county,
        period=DAY,
        computed_at=AT,
        rows=(("4101020001", 40, migrant, 1, 0),),
        archives_overdue=2,
        dropout_archives_overdue=0,
    )


async def received(client: httpx.AsyncClient, who: str = "county:410102") -> httpx.Response:
    return await client.get(
        "/api/v1/statistics/received",
        params={"unit": "county:410102", "period": DAY.isoformat()},
        headers=auth_headers(who),
    )


async def test_figures_are_kept_once_per_unit_period_and_kind_and_the_newest_wins(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    await deliver(runtime, basic(30), source=NATIONAL, target=ZHONGYUAN)
    await deliver(runtime, basic(30), source=NATIONAL, target=ZHONGYUAN)  # re-delivered
    await deliver(runtime, extended(7), source=HENAN, target=ZHONGYUAN)
    later = AT + timedelta(hours=1)
    await deliver(runtime, basic(31, at=later), source=NATIONAL, target=ZHONGYUAN)  # a re-run
    await deliver(runtime, basic(99), source=NATIONAL, target=ZHONGYUAN)  # older: ignored

    answer = await received(client)
    assert answer.status_code == 200, answer.text
    items = {i["kind"]: i for i in answer.json()["items"]}
    assert sorted(items) == ["county_extended", "county_figures"]
    figures = items["county_figures"]
    assert figures["source"] == "national:CN" and figures["computed_at"].startswith("2026-09-06T17")
    assert figures["figures"]["rows"] == [
        ["4101020001", 3, "female", "enrolled", 31],
        ["4101020001", 3, "male", "suspended", 1],
    ]
    assert figures["figures"]["movements"]["counts"] == {"registered": 2}
    assert items["county_extended"]["source"] == "province:41"
    assert items["county_extended"]["figures"]["rows"] == [["4101020001", 40, 7, 1, 0]]
    latest = await client.get(
        "/api/v1/statistics/received", params={"unit": "county:410102"},
        headers=auth_headers("county:410102"),
    )  # fmt: skip
    assert {i["period"] for i in latest.json()["items"]} == {DAY.isoformat()}
    # a neighbouring county reads nothing of it
    assert (await received(client, "county:410105")).status_code == 404


async def test_only_the_unit_computing_them_sends_a_countys_figures_of_its_own_schools(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    with pytest.raises(SecurityRefusal, match="not_a_party"):  # another province's archives
        await deliver(runtime, extended(1), source=ZHEJIANG, target=ZHONGYUAN)
    with pytest.raises(SecurityRefusal, match="sender_not_allowed"):  # the contract's senders
        await deliver(runtime, basic(5), source=HENAN, target=ZHONGYUAN)
    with pytest.raises(PermanentMessageError, match="not in county 410102"):
        await deliver(runtime, basic(5, school="4101050001"), source=NATIONAL, target=ZHONGYUAN)
    with pytest.raises(PermanentMessageError, match="sent to county:410105"):
        await deliver(runtime, basic(5), source=NATIONAL, target=unit(Tier.COUNTY, "410105"))
    assert (await received(client)).json()["items"] == []
