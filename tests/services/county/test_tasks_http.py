"""The county as registry authority over HTTP, with its runtime on the real broker.

Submissions reach the county through RabbitMQ (published as a school's relay would), the
officer works the task list over HTTP, and the decisions leave through the county's outbox and
relay (caught by a queue bound where national and the school would listen).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from shared.federation.config import NATIONAL, Tier
from shared.messaging.consumer import REASON_HEADER
from shared.messaging.envelope import Contract, Envelope, binding_key_for, build_envelope
from shared.messaging.testing import signed_as_source
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.runtime.service import ServiceRuntime
from shared.security.testing import UnitAuth
from tests.components.approval_desk.support import (
    HANGZHOU_SCHOOL,
    PRIMARY,
    ZHONGYUAN,
    batch,
    eventually,
    key_field_change,
    migrate,
    settings_for,
    unit,
)

pytestmark = pytest.mark.broker

COUNTY = unit(Tier.COUNTY, ZHONGYUAN)
SCHOOL = unit(Tier.SCHOOL, PRIMARY)


@dataclass
class County:
    runtime: ServiceRuntime
    client: httpx.AsyncClient
    amqp_url: str

    async def submit(self, payload: Contract, school: str = PRIMARY) -> Envelope:
        """Publish a school's submission to the county through the broker."""
        envelope = build_envelope(payload, source=unit(Tier.SCHOOL, school), target=COUNTY)
        body, headers = signed_as_source(self.runtime.federation, envelope)
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            message = aio_pika.Message(
                body,
                headers=headers,
                content_type="application/json",
                message_id=str(envelope.message_id),
                type=envelope.type,
            )
            await exchange.publish(message, envelope.routing_key, mandatory=True)
        return envelope

    async def tasks(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/counties/{ZHONGYUAN}/tasks", params=params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def task_for(self, subject_id: object) -> dict[str, Any]:
        """Wait until the submission's task is listed, then read it."""
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            items = (await self.tasks(limit=200))["items"]
            found[:] = [t for t in items if t["subject_id"] == str(subject_id)]
            return bool(found)

        await eventually(listed)
        response = await self.client.get(f"/api/v1/tasks/{found[0]['task_id']}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task


@asynccontextmanager
async def running_county(
    directory: Path, database_url: str, amqp_url: str, rules: dict[str, Any] | None = None
) -> AsyncIterator[County]:
    """The county service on a migrated database and the real broker."""
    await migrate("county", database_url)
    config = federation_copy(directory, rules=rules)
    app = build_app(settings_for(config, "county-41", database_url, amqp_url))
    runtime: ServiceRuntime = app.state.runtime
    await runtime.start()  # ASGITransport runs no lifespan
    try:
        await runtime.broker.wait_ready(30)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://county",
            auth=UnitAuth("county:410102"),
        ) as client:
            yield County(runtime, client, amqp_url)
    finally:
        await runtime.stop()
        await _delete_queues(amqp_url, runtime)


@pytest.fixture
async def county(tmp_path: Path, database_url: str, amqp_url: str) -> AsyncIterator[County]:
    async with running_county(tmp_path / "federation", database_url, amqp_url) as started:
        yield started


async def _delete_queues(amqp_url: str, runtime: ServiceRuntime) -> None:
    topology = runtime.consumer.topology
    names = topology.queue_names()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


@pytest.fixture
async def listener(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    """A private queue bound where national, the school and the province would listen."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in ("national.CN.#", binding_key_for(SCHOOL), "province.41.#"):
            await queue.bind(exchange, routing_key=key)
        yield queue


async def received(queue: AbstractQueue, count: int, batch_id: object) -> list[Envelope]:
    """The first ``count`` messages about ``batch_id`` that reach ``queue``."""
    found: list[Envelope] = []

    async def arrived() -> bool:
        message: AbstractIncomingMessage | None
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            envelope = Envelope.model_validate_json(message.body)
            if envelope.payload.get("batch_id") == str(batch_id):
                found.append(envelope)
        return len(found) >= count

    await eventually(arrived)
    return found


async def test_an_officer_works_a_batch_from_the_task_list(
    county: County, listener: AbstractQueue
) -> None:
    submitted = batch(size=3)
    await county.submit(submitted)
    task = await county.task_for(submitted.batch_id)
    assert (task["status"], task["kind"], task["item_count"]) == ("open", "registration_batch", 3)
    assert task["school_name"] == "郑州市中原区第一实验小学"
    assert [i["basic"]["name"] for i in task["items"]] == ["张三"] * 3
    dropped = str(submitted.items[2].registration_id)

    response = await county.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={
            "decision": "approve",
            "rejected_items": [{"registration_id": dropped, "reason": "left before enrolment"}],
        },
    )

    assert response.status_code == 200, response.text
    decided = response.json()
    assert (decided["status"], decided["decided_by"]) == ("approved", "test-county-410102")
    assert [i["status"] for i in decided["items"]] == ["approved", "approved", "rejected"]
    messages = await received(listener, 3, submitted.batch_id)
    by_target = {str(e.target): e for e in messages}
    assert set(by_target) == {"national:CN", f"school:{PRIMARY}", "province:41"}
    assert len(by_target["national:CN"].payload["items"]) == 2
    rejection = by_target[f"school:{PRIMARY}"].payload["outcomes"]
    assert [(o["registration_id"], o["rule"]) for o in rejection] == [
        (dropped, "authority_rejected")
    ]

    again = await county.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "reject", "reason": "changed my mind"},
    )
    assert again.status_code == 409
    assert again.json()["rule"] == "task_already_decided"


async def test_the_task_list_filters_and_pages(county: County) -> None:
    first, second = batch(size=1), batch(size=1)
    change = key_field_change()
    for payload in (first, second, change):
        await county.submit(payload)
    await county.task_for(change.change_id)
    await county.task_for(second.batch_id)

    everything = await county.tasks()
    assert everything["total"] == 3 and everything["limit"] == 50
    changes = await county.tasks(kind="key_field_change")
    assert [t["subject_id"] for t in changes["items"]] == [str(change.change_id)]
    page = await county.tasks(limit=1, offset=1, status="open")
    assert page["total"] == 3 and len(page["items"]) == 1
    assert page["items"][0]["task_id"] == everything["items"][1]["task_id"]
    assert (await county.tasks(status="approved"))["total"] == 0
    bad = await county.client.get(f"/api/v1/counties/{ZHONGYUAN}/tasks", params={"limit": 0})
    assert bad.status_code == 422


async def test_a_key_field_change_shows_and_serves_its_proofs(county: County) -> None:
    change = key_field_change()
    await county.submit(change)
    task = await county.task_for(change.change_id)

    assert task["key_field_change"]["changes"]["name"] == "张三丰"
    assert task["proofs"] == [
        {
            "index": 0,
            "kind": "hukou_proof",
            "filename": "户口本.pdf",
            "size": len(b"%PDF-1.4 proof"),
        }
    ]
    proof = await county.client.get(f"/api/v1/tasks/{task['task_id']}/proofs/0")
    assert proof.status_code == 200
    assert proof.content == b"%PDF-1.4 proof"
    assert proof.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in proof.headers["content-disposition"]
    missing = await county.client.get(f"/api/v1/tasks/{task['task_id']}/proofs/1")
    assert missing.status_code == 404

    rejected = await county.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "reject"},
    )
    assert rejected.status_code == 422  # a rejection needs a reason


async def test_units_and_tasks_not_served_here_are_404(county: County) -> None:
    assert (await county.client.get("/api/v1/counties/330102/tasks")).status_code == 404
    unknown = "/api/v1/tasks/00000000-0000-0000-0000-000000000000"
    assert (await county.client.get(unknown)).status_code == 404
    decision = {"decision": "approve"}
    assert (await county.client.post(f"{unknown}/decision", json=decision)).status_code == 404


async def test_a_batch_from_a_school_the_county_does_not_govern_is_dead_lettered(
    county: County, amqp_url: str
) -> None:
    await county.submit(batch(HANGZHOU_SCHOOL), school=HANGZHOU_SCHOOL)
    dead_queue = county.runtime.consumer.topology.dead_queue_name
    reasons: list[str] = []

    async def dead_lettered() -> bool:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            queue = await (await connection.channel()).get_queue(dead_queue)
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                reasons.append(str(message.headers.get(REASON_HEADER)))
        return bool(reasons)

    await eventually(dead_lettered)
    assert HANGZHOU_SCHOOL in reasons[0] and "not governed by county:410102" in reasons[0]
    assert (await county.tasks())["total"] == 0


async def test_an_auto_approving_province_needs_no_officer(
    tmp_path: Path, database_url: str, amqp_url: str, listener: AbstractQueue
) -> None:
    auto = {"41": {"registration": {"auto_approve": True}}}
    async with running_county(tmp_path / "auto", database_url, amqp_url, auto) as county:
        submitted = batch(size=2)
        await county.submit(submitted)

        [approved] = await received(listener, 1, submitted.batch_id)
        assert approved.target == NATIONAL and approved.type == "registration.batch_approved"
        task = await county.task_for(submitted.batch_id)
        assert (task["status"], task["decided_by"]) == ("approved", "system")
