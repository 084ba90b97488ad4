"""The national HTTP API, with the real runtime: database (SQLite, PostgreSQL) and broker.

The data arrives the real way: a registration batch is published to the broker as the
county would, and the national consumer decides it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI

from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from shared.contracts.registration import RegistrationBatchApproved
from shared.contracts.students import IdType
from shared.federation.config import NATIONAL, Federation
from shared.messaging.envelope import build_envelope
from shared.messaging.testing import signed_as_source
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security.testing import UnitAuth
from tests.services.national.builders import (
    SCHOOL,
    ZHEJIANG_SCHOOL,
    authority_of,
    basic,
    batch,
    key_change,
    resident_id,
)

pytestmark = pytest.mark.broker

BORN = date(2018, 3, 14)


@pytest.fixture
async def app(tmp_path: Path, national_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    config = federation_copy(tmp_path)
    settings = ServiceSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=national_url,
        amqp_url=amqp_url,
        retry_delays_ms=(100, 200),
        relay_poll_interval=0.2,
    )
    application = build_app(settings)
    runtime: ServiceRuntime = application.state.runtime
    await runtime.start()  # ASGITransport does not run the lifespan
    await runtime.broker.wait_ready(timeout=30)
    try:
        yield application
    finally:
        await runtime.stop()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://national", auth=UnitAuth("national:CN")
    ) as http:
        yield http


@dataclass
class Bus:
    """The broker as the other tiers use it, signing as the instance hosting the source."""

    amqp_url: str
    federation: Federation

    async def publish(self, payload: Any) -> None:
        """Send ``payload`` to national as the school's authority would."""
        source = authority_of(payload.school_code)
        envelope = build_envelope(payload, source=source, target=NATIONAL)
        body, headers = signed_as_source(self.federation, envelope)
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            message = aio_pika.Message(body, message_id=str(envelope.message_id), headers=headers)
            await exchange.publish(message, envelope.routing_key, mandatory=True)


@pytest.fixture
def bus(app: FastAPI, amqp_url: str) -> Bus:
    return Bus(amqp_url, app.state.runtime.federation)


async def eventually(
    probe: Callable[[], Awaitable[httpx.Response]], within: float = 30
) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await probe()
        if response.status_code == 200 and response.json().get("items", True):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"still {response.status_code}: {response.text}")
        await asyncio.sleep(0.1)


async def register(
    client: httpx.AsyncClient, bus: Bus, sent: RegistrationBatchApproved
) -> list[dict[str, Any]]:
    await bus.publish(sent)
    listing = await eventually(
        lambda: client.get("/api/v1/registry", params={"school_code": sent.school_code})
    )
    items: list[dict[str, Any]] = listing.json()["items"]
    return items


async def test_registry_answers_basic_info_of_a_student_number(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    info = basic("张伟", birth=BORN)
    await register(client, bus, batch(info))

    response = await client.get(f"/api/v1/registry/G{info.id_number}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "student_number", "name", "gender", "birth_date", "id_type", "id_number",
        "nationality", "ethnicity", "school_code", "province_code", "grade", "status",
        "enrolled_on", "registered_at", "updated_at",
    }  # fmt: skip
    assert (body["name"], body["school_code"], body["province_code"]) == ("张伟", SCHOOL, "41")
    assert (body["status"], body["grade"], body["birth_date"]) == ("enrolled", 1, "2018-03-14")


async def test_unknown_student_number_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/registry/G{resident_id(BORN, 'male')}")
    assert response.status_code == 404
    assert response.json()["rule"] == "unknown_student_number"


async def test_a_schools_registry_is_paginated_in_student_number_order(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    infos = [basic(f"学生{n}", birth=date(2018, 1, 1 + n)) for n in range(5)]
    await register(client, bus, batch(*infos))

    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"school_code": SCHOOL, "limit": 2}
        if after:
            params["after"] = after
        page = (await client.get("/api/v1/registry", params=params)).json()
        seen += [item["student_number"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == sorted(f"G{i.id_number}" for i in infos)
    other = await client.get("/api/v1/registry", params={"school_code": ZHEJIANG_SCHOOL})
    assert other.json() == {"items": [], "next_after": None}


async def test_an_upgraded_l_number_redirects_to_the_new_g_number(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    [registered] = await register(
        client, bus, batch(basic("王芳", "female", BORN, id_type=IdType.NONE))
    )
    l_number = registered["student_number"]
    new_id = resident_id(BORN, "female")
    await bus.publish(key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id))

    current = await eventually(lambda: client.get(f"/api/v1/registry/G{new_id}"))
    old = await client.get(f"/api/v1/registry/{l_number}")

    assert old.status_code == 308
    assert old.headers["location"] == f"/api/v1/registry/G{new_id}"
    assert old.json()["superseded_by"] == f"G{new_id}"
    assert current.json()["id_type"] == "resident_id"


async def test_review_queue_and_decisions(client: httpx.AsyncClient, bus: Bus) -> None:
    await register(client, bus, batch(basic("张伟", birth=BORN)))
    suspect = basic("张伟", birth=BORN)
    await bus.publish(batch(suspect, school=ZHEJIANG_SCHOOL))

    queue = await eventually(
        lambda: client.get("/api/v1/reviews", params={"province": "33", "status": "open"})
    )
    [review] = queue.json()["items"]
    assert review["rule"] == "suspect_same_name_gender_birth"
    assert review["applicant"]["id_number"] == suspect.id_number
    assert review["matched"]["school_code"] == SCHOOL and review["matched"]["province_code"] == "41"
    assert review["matched"]["student_number"].startswith("G")
    assert (await client.get("/api/v1/reviews", params={"province": "41"})).json()["items"] == []

    path = f"/api/v1/reviews/{review['review_id']}/decision"
    decided = await client.post(path, json={"decision": "issue", "reason": "twins? no: two people"})
    again = await client.post(path, json={"decision": "reject", "reason": "changed my mind"})
    missing = await client.post(
        f"/api/v1/reviews/{uuid.uuid4()}/decision", json={"decision": "reject", "reason": "x"}
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "issued"
    assert decided.json()["student_number"] == f"G{suspect.id_number}"
    assert again.status_code == 409 and again.json()["rule"] == "review_already_decided"
    assert missing.status_code == 404
    issued = await client.get(f"/api/v1/registry/G{suspect.id_number}")
    assert issued.json()["school_code"] == ZHEJIANG_SCHOOL


async def test_bad_queries_are_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/registry", params={"school_code": "41"})).status_code == 422
    assert (await client.get("/api/v1/reviews", params={"province": "4"})).status_code == 422
    post = await client.post(
        f"/api/v1/reviews/{uuid.uuid4()}/decision", json={"decision": "maybe", "reason": "x"}
    )
    assert post.status_code == 422
