"""The transfer endpoints of national (SQLite, PostgreSQL): a transfer with its steps, a
student's transfers, overdue lists, the officer's intervention, the deadline sweep, the gauge,
and the periodic sweep of the running service (with the broker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import NationalRuntime, build_app
from services.national.config import NationalSettings
from services.national.entrypoints.transfer_http import TRANSFER_DEPS
from services.national.service_layer.transfers.context import TransferDeps
from shared.clock import Clock
from shared.contracts.students import IdType
from shared.security.testing import UnitAuth
from tests.services.national.builders import (
    OTHER_SCHOOL_SAME_COUNTY,
    NationalDriver,
    basic,
    batch,
    enrol,
    key_change,
    of_type,
    outcomes_of,
    resident_id,
    transfer_request,
)

TODAY = date(2026, 9, 7)  # the first step of a Henan transfer opened today is due 2026-09-20


def settings_for(tmp_path: Path, national_url: str, **options: Any) -> NationalSettings:
    config = federation_copy(tmp_path)
    return NationalSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=national_url,
        today=TODAY,
        **options,
    )


@pytest.fixture
async def app(tmp_path: Path, national_url: str) -> AsyncIterator[FastAPI]:
    """The national app without its broker side (the routes need the database only)."""
    application = build_app(settings_for(tmp_path, national_url, deadline_sweep_interval=0))
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


def move_clock(app: FastAPI, day: date) -> None:
    deps: TransferDeps = app.state.runtime.extras[TRANSFER_DEPS]
    deps.clock = Clock(day)


async def started(national: NationalDriver) -> tuple[str, str]:
    """A Henan transfer whose first step (province 41, superior national) is open."""
    number = await enrol(national)
    request = transfer_request(number)
    await national.request(request)
    return number, str(request.transfer_id)


async def test_a_transfer_reads_with_every_step_and_what_it_waits_for(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    number, transfer_id = await started(national)
    [first] = of_type(await national.staged_since(0), "transfer.step_opened")
    await national.decide(first)

    response = await client.get(f"/api/v1/transfers/{transfer_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "in_progress" and body["student_number"] == number
    assert (body["from_school"], body["to_school"]) == ("4101020001", "4101050001")
    assert (body["from_province"], body["to_province"], body["grade"]) == ("41", "41", 1)
    assert body["closing_rule"] is None and body["archive_due_on"] is None
    assert [(s["role"], s["party_unit"], s["state"]) for s in body["steps"]] == [
        ("sending_province", "province:41", "approved"),
        ("receiving_authority", "county:410105", "open"),
        ("sending_school", "school:4101020001", "pending"),
        ("sending_authority", "county:410102", "pending"),
    ]
    step = body["steps"][0]
    assert (step["opened_on"], step["due_on"], step["due_approximate"]) == (
        "2026-09-07",
        "2026-09-20",
        False,
    )
    assert (step["decided_by"], step["decided_unit"], step["intervention"]) == (
        "王老师",
        "province:41",
        False,
    )
    assert step["decided_at"] is not None and step["superior_unit"] == "national:CN"
    waiting = body["waiting_for"]
    assert (waiting["role"], waiting["party_unit"], waiting["due_on"]) == (
        "receiving_authority",
        "county:410105",
        "2026-09-20",
    )
    assert (await client.get(f"/api/v1/transfers/{first.message_id}")).status_code == 404


async def test_a_students_transfers_list_newest_first_refused_ones_too(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    number, transfer_id = await started(national)
    second = transfer_request(number, to_school=OTHER_SCHOOL_SAME_COUNTY)
    await national.request(second)

    response = await client.get("/api/v1/transfers", params={"student_number": number})

    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["transfer_id"] for i in items} == {transfer_id, str(second.transfer_id)}
    refused = next(i for i in items if i["state"] == "refused")
    assert refused["closing_rule"] == "transfer_in_progress" and refused["steps"] == []


async def test_a_students_transfers_are_found_under_a_number_changed_since(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    born = date(2018, 3, 14)
    envelopes = await national.deliver(batch(basic("王芳", "female", born, id_type=IdType.NONE)))
    l_number = outcomes_of(envelopes[0])[0]["student_number"]
    request = transfer_request(l_number)
    await national.request(request)
    new_id = resident_id(born, "female")
    await national.deliver(key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id))

    for number in (f"G{new_id}", l_number):
        response = await client.get("/api/v1/transfers", params={"student_number": number})
        assert [i["transfer_id"] for i in response.json()["items"]] == [str(request.transfer_id)]


async def test_overdue_lists_the_party_and_the_superior_and_the_sweep_counts(
    client: httpx.AsyncClient, national: NationalDriver
) -> None:
    _, transfer_id = await started(national)

    async def overdue(unit: str, as_of: str | None = None) -> list[dict[str, Any]]:
        params = {"unit": unit} | ({"as_of": as_of} if as_of else {})
        response = await client.get("/api/v1/transfers/overdue", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    assert await overdue("national:CN") == []  # today is 2026-09-07
    assert await overdue("national:CN", "2026-09-20") == []
    [late] = await overdue("national:CN", "2026-09-21")
    assert (late["transfer_id"], late["role"], late["party_unit"]) == (
        transfer_id,
        "sending_province",
        "province:41",
    )
    assert late["overdue_notified_at"] is None
    assert len(await overdue("province:41", "2026-09-21")) == 1  # the party itself
    assert await overdue("county:410105", "2026-09-21") == []
    bad = await client.get("/api/v1/transfers/overdue", params={"unit": "410102"})
    assert bad.status_code == 422

    sweep = await client.post("/api/v1/operations/deadline-sweep", json={"as_of": "2026-09-21"})
    assert sweep.status_code == 200
    assert sweep.json() == {
        "as_of": "2026-09-21",
        "reminders": 0,
        "overdue": 0,
        "overdue_at_national": 1,
    }
    again = await client.post("/api/v1/operations/deadline-sweep", json={"as_of": "2026-09-21"})
    assert again.json()["overdue_at_national"] == 0
    [late] = await overdue("national:CN", "2026-09-21")
    assert late["overdue_notified_at"] is not None
    today = await client.post("/api/v1/operations/deadline-sweep", json={})
    assert today.json()["as_of"] == "2026-09-07"


async def test_a_national_officer_decides_an_overdue_province_step(
    app: FastAPI, client: httpx.AsyncClient, national: NationalDriver
) -> None:
    _, transfer_id = await started(national)
    stored = await national.transfer(transfer_id)
    province_step, county_step = stored.saga.steps[0].step_id, stored.saga.steps[1].step_id
    url = f"/api/v1/transfers/{transfer_id}/steps/{province_step}/intervention"
    body = {"decision": "approve", "reason": "no answer in 10 days"}

    early = await client.post(url, json=body)
    assert early.status_code == 422 and early.json()["rule"] == "not_entitled"

    move_clock(app, date(2026, 9, 21))
    before = await national.last_outbox_id()
    response = await client.post(url, json=body)

    assert response.status_code == 200, response.text
    step = response.json()["steps"][0]
    assert (step["state"], step["decided_unit"], step["decided_by"], step["intervention"]) == (
        "approved",
        "national:CN",
        "test-national-CN",  # the officer's account, from the token
        True,
    )
    assert step["reason"] == "no answer in 10 days"
    assert response.json()["waiting_for"]["party_unit"] == "county:410105"
    [settled, opened] = await national.staged_since(before)
    assert (settled.type, str(settled.target)) == ("transfer.step_settled", "province:41")
    assert (opened.type, str(opened.target)) == ("transfer.step_opened", "county:410105")
    assert str(opened.correlation_id) == stored.record.correlation_id

    again = await client.post(url, json=body)
    assert again.status_code == 409 and again.json()["rule"] == "step_not_open"
    move_clock(app, date(2026, 10, 30))
    county = f"/api/v1/transfers/{transfer_id}/steps/{county_step}/intervention"
    not_ours = await client.post(county, json=body)  # the county's superior is province 41
    assert not_ours.status_code == 422 and "neither the party" in not_ours.json()["message"]
    unknown = f"/api/v1/transfers/{transfer_id}/steps/{transfer_id}/intervention"
    assert (await client.post(unknown, json=body)).status_code == 404


async def test_the_gauge_shows_open_and_overdue_steps_per_party(
    app: FastAPI, client: httpx.AsyncClient, national: NationalDriver
) -> None:
    await started(national)
    move_clock(app, date(2026, 9, 21))

    text = (await client.get("/metrics")).text

    assert 'xueji_transfer_steps{kind="open",unit="province:41"} 1.0' in text
    assert 'xueji_transfer_steps{kind="overdue",unit="province:41"} 1.0' in text


@pytest.mark.broker
async def test_the_running_service_sweeps_by_itself(
    tmp_path: Path, national_url: str, amqp_url: str, national: NationalDriver
) -> None:
    _, transfer_id = await started(national)
    settings = settings_for(tmp_path, national_url, amqp_url=amqp_url)
    settings = settings.model_copy(update={"today": date(2026, 9, 22)})
    settings = settings.model_copy(update={"deadline_sweep_interval": 0.2})
    application = build_app(settings)
    runtime: NationalRuntime = application.state.runtime
    await runtime.start()
    try:
        deadline = time.monotonic() + 30
        while (await national.transfer(transfer_id)).saga.steps[0].overdue_notified_at is None:
            assert time.monotonic() < deadline, "the periodic sweep never ran"
            await asyncio.sleep(0.05)
        assert runtime.sweeper is not None and runtime.sweeper.interval == 0.2
    finally:
        await runtime.stop()
