"""The promotion endpoints of national (SQLite, PostgreSQL): run the year's promotion, run it
again (nothing happens, and the answer says so), read a run, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from services.national.config import NationalSettings
from shared.security.testing import UnitAuth
from tests.services.national.builders import (
    FEDERATION,
    SCHOOL,
    NationalDriver,
    basic,
    batch,
    outcomes_of,
    transfer_request,
)

TODAY = date(2026, 8, 10)


@pytest.fixture
async def app(tmp_path: Path, national_url: str) -> AsyncIterator[FastAPI]:
    """The national app without its broker side (the routes need the database only)."""
    config = federation_copy(tmp_path)
    settings = NationalSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=national_url,
        today=TODAY,
        deadline_sweep_interval=0,
    )
    application = build_app(settings)
    try:
        yield application
    finally:
        await application.state.runtime.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://national", auth=UnitAuth("national:CN")
    ) as http:
        yield http


async def register(national: NationalDriver, *grades: int) -> list[str]:
    infos = [
        basic("王芳", "female", date(2019 - g, 2, 1) + timedelta(days=i), grade=g)
        for i, g in enumerate(grades)
    ]
    envelopes = await national.deliver(batch(*infos, school=SCHOOL))
    return [o["student_number"] for o in outcomes_of(envelopes[0])]


async def test_run_then_run_again_then_read(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    numbers = await register(national, 1, 1, 3, 6)
    held = numbers[2]
    await national.request(transfer_request(held, grade=3))

    response = await client.post("/api/v1/operations/promotions", json={"school_year": 2026})

    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["ran"], run["as_of"], run["promoted"]) == (True, "2026-08-10", 3)
    assert run["detail"] == "promoted 3 students"
    assert run["by_grade"] == [
        {"grade": 1, "to_grade": 2, "count": 2},
        {"grade": 3, "to_grade": 4, "count": 1},
    ]
    assert run["skipped"] == {
        "graduating": [{"school_code": SCHOOL, "count": 1, "stage": None}],
        "not_in_batch": [],
    }
    [listed] = run["in_transfer"]
    assert (listed["student_number"], listed["from_grade"], listed["to_grade"]) == (held, 3, 4)
    assert run["schools"] == run["messages"] == len(FEDERATION.schools)

    again = await client.post(
        "/api/v1/operations/promotions", json={"school_year": 2026, "as_of": "2026-08-12"}
    )
    assert again.status_code == 200
    body = again.json()
    assert body["ran"] is False and body["promoted"] == 3 and body["as_of"] == "2026-08-10"
    assert body["detail"].startswith("the promotion of school year 2026 already ran at")
    assert [(await national.entry(n)).grade for n in numbers] == [2, 2, 4, 6]

    read = await client.get("/api/v1/operations/promotions/2026")
    assert read.status_code == 200
    assert read.json()["by_grade"] == run["by_grade"] and read.json()["ran"] is False


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"school_year": 2026, "as_of": "2026-07-30"}, "before_promotion_day"),
        ({"school_year": 2025}, "school_year_mismatch"),  # today is in 2026
    ],
)
async def test_refusals_name_their_rule(
    client: httpx.AsyncClient, body: dict[str, object], rule: str
) -> None:
    response = await client.post("/api/v1/operations/promotions", json=body)
    assert response.status_code == 422
    assert response.json()["rule"] == rule


async def test_a_year_that_never_ran_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/operations/promotions/2031")
    assert response.status_code == 404
    assert response.json()["rule"] == "no_promotion"


async def test_the_preview_counts_what_the_run_then_does_and_changes_nothing(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    numbers = await register(national, 1, 2, 2, 6)
    url = "/api/v1/operations/promotions/2026/preview"

    preview = await client.get(url)

    assert preview.status_code == 200, preview.text
    seen = preview.json()
    assert (seen["already_ran"], seen["as_of"], seen["promoted"]) == (False, "2026-08-10", 3)
    assert seen["by_grade"] == [
        {"grade": 1, "to_grade": 2, "count": 1},
        {"grade": 2, "to_grade": 3, "count": 2},
    ]
    assert seen["skipped"]["graduating"] == [{"school_code": SCHOOL, "count": 1, "stage": None}]
    assert [(await national.entry(n)).grade for n in numbers] == [1, 2, 2, 6]  # untouched
    assert (await client.get("/api/v1/operations/promotions/2026")).status_code == 404

    run = (await client.post("/api/v1/operations/promotions", json={"school_year": 2026})).json()
    assert (run["promoted"], run["by_grade"]) == (seen["promoted"], seen["by_grade"])
    after = (await client.get(url)).json()
    assert (after["already_ran"], after["promoted"]) == (True, 3)
    early = await client.get(url, params={"as_of": "2026-08-09"})
    assert (early.status_code, early.json()["rule"]) == (422, "before_promotion_day")
