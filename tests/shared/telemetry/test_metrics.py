"""``GET /metrics`` of a real service runtime (SQLite, the real broker) before and after traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.testing import federation_copy, instance_name
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import build_envelope
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.signing import SIGNATURE_HEADER
from shared.messaging.tables import kernel_metadata
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import ServiceRuntime, build_runtime
from shared.runtime.settings import ServiceSettings
from shared.security.testing import auth_headers
from shared.telemetry.metrics import ServiceMetrics
from tests.shared.messaging.harness import eventually

pytestmark = pytest.mark.broker

CN = UnitRef(tier=Tier.NATIONAL, code="CN")


class Service:
    def __init__(self, runtime: ServiceRuntime, http: httpx.AsyncClient, amqp_url: str) -> None:
        self.runtime = runtime
        self.http = http
        self.amqp_url = amqp_url

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        response = await self.http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }

    async def ping(self) -> str:
        response = await self.http.post(
            "/api/v1/diagnostics/pings", json={"source": "national:CN", "target": "national:CN"}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["probe_id"])

    async def publish_raw(self, body: bytes, routing_key: str, **props: object) -> None:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            await exchange.publish(aio_pika.Message(body, **props), routing_key, mandatory=True)  # type: ignore[arg-type]


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def service(tmp_path: Path, amqp_url: str) -> AsyncIterator[Service]:
    config = federation_copy(tmp_path / "config")
    name = instance_name(config, "national")
    settings = ServiceSettings(
        instance=name,
        federation_config=config,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'national.db'}",
        amqp_url=amqp_url,
        retry_delays_ms=(50, 100, 200),
        relay_poll_interval=0.2,
    )
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, name)
    runtime = build_runtime(Tier.NATIONAL, settings, handlers)
    async with runtime.engine.begin() as connection:
        await connection.run_sync(kernel_metadata.create_all)
    app = create_app(runtime, [diagnostics.router], title="test", description="test")
    await runtime.start()
    await runtime.broker.wait_ready(30)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=auth_headers("national:CN")
        ) as http:
            yield Service(runtime, http, amqp_url)
    finally:
        await runtime.stop()


async def test_kernel_metrics_count_messages_in_out_and_dead(service: Service) -> None:
    before = await service.metrics()
    assert value(before, "xueji_broker_connected") == 1
    assert value(before, "xueji_messages_in_total", type="diagnostics.ping", outcome="applied") == 0

    probe_id = await service.ping()

    async def answered() -> bool:
        probe = await service.http.get(f"/api/v1/diagnostics/pings/{probe_id}")
        return probe.json()["answered_at"] is not None

    await eventually(answered)
    # a redelivered copy of a message already applied, and an unsigned message nobody can read
    duplicate = build_envelope(diagnostics.Ping(probe_id=probe_id), source=CN, target=CN)
    body = duplicate.to_json()
    signed = {SIGNATURE_HEADER: service.runtime.signer.sign(body)}
    for _ in range(2):
        await service.publish_raw(
            body, duplicate.routing_key, type="diagnostics.ping", headers=signed
        )
    await service.publish_raw(b"not json", "national.CN.whatever")
    consumer = service.runtime.consumer
    await eventually(lambda: _at_least(consumer.duplicates, consumer.dead_lettered))

    after = await service.metrics()
    messages_in = "xueji_messages_in_total"
    assert value(after, messages_in, type="diagnostics.ping", outcome="applied") == 2
    assert value(after, messages_in, type="diagnostics.ping", outcome="duplicate") == 1
    assert value(after, messages_in, type="diagnostics.pong", outcome="applied") >= 1
    assert value(after, "xueji_messages_published_total", type="diagnostics.ping") == 1
    assert value(after, "xueji_messages_published_total", type="diagnostics.pong") == 2
    assert value(after, "xueji_messages_dead_lettered_total", type="unknown") == 1
    assert value(after, "xueji_security_alerts_total", reason="unsigned") == 1
    assert value(after, "xueji_security_alerts_total", reason="bad_signature") == 0
    assert value(after, "xueji_outbox_backlog_messages") == 0
    route = "/api/v1/diagnostics/pings"
    assert (
        value(
            after,
            "xueji_http_request_duration_seconds_count",
            method="POST",
            route=route,
            status="202",
        )
        == 1
    )
    assert (
        value(
            after,
            "xueji_http_request_duration_seconds_count",
            method="GET",
            route=route + "/{probe_id}",
            status="200",
        )
        >= 1
    )


async def _at_least(duplicates: int, dead: int) -> bool:
    return duplicates >= 1 and dead >= 1


async def test_outbox_backlog_and_oldest_age_are_read_from_the_database(service: Service) -> None:
    await service.runtime.relay.stop()
    await service.ping()
    stuck = await service.metrics()
    assert value(stuck, "xueji_outbox_backlog_messages") == 1
    assert value(stuck, "xueji_outbox_oldest_unsent_age_seconds") > 0

    service.runtime.relay.start()

    async def drained() -> bool:
        samples = await service.metrics()
        return value(samples, "xueji_outbox_backlog_messages") == 0

    await eventually(drained)
    assert value(await service.metrics(), "xueji_outbox_oldest_unsent_age_seconds") == 0


async def test_a_tier_registered_gauge_callback_is_scraped(service: Service) -> None:
    counts = {"4101020001": 3, "4101020002": 0}

    async def open_tasks() -> dict[tuple[str, ...], float]:
        return {(unit,): n for unit, n in counts.items()}

    async def broken() -> float:
        raise RuntimeError("database away")

    service.runtime.metrics.register_gauge_callback(
        "xueji_approval_tasks_open", "Open approval tasks per unit", ["unit"], open_tasks
    )
    service.runtime.metrics.register_gauge_callback("xueji_broken", "Always fails", [], broken)

    samples = await service.metrics()
    assert value(samples, "xueji_approval_tasks_open", unit="4101020001") == 3
    assert ("xueji_approval_tasks_open", frozenset({("unit", "4101020002")})) in samples
    assert ("xueji_broken", frozenset()) not in samples
    assert value(samples, "xueji_metrics_callback_failures_total", gauge="xueji_broken") == 1

    del counts["4101020002"]  # a unit with nothing open any more leaves no stale series
    samples = await service.metrics()
    assert ("xueji_approval_tasks_open", frozenset({("unit", "4101020002")})) not in samples


async def test_unmatched_paths_share_one_route_label(service: Service) -> None:
    for path in ("/nope/1", "/nope/2"):
        assert (await service.http.get(path)).status_code == 404
    samples = await service.metrics()
    assert (
        value(
            samples,
            "xueji_http_request_duration_seconds_count",
            method="GET",
            route="<unmatched>",
            status="404",
        )
        == 2
    )


def test_a_gauge_name_is_registered_once() -> None:
    metrics = ServiceMetrics(process_metrics=False)

    async def zero() -> float:
        return 0

    metrics.register_gauge_callback("xueji_x", "x", [], zero)
    with pytest.raises(ValueError, match="twice"):
        metrics.register_gauge_callback("xueji_x", "x", [], zero)


def test_metrics_render_is_text_format() -> None:
    import asyncio

    text = asyncio.run(ServiceMetrics(process_metrics=False).render()).decode()
    assert "# TYPE xueji_http_request_duration_seconds histogram" in text


async def test_the_target_says_which_instance_and_tier_it_is(service: Service) -> None:
    samples = await service.metrics()
    name = service.runtime.instance.name
    info = [key for key in samples if key[0] == "xueji_instance_info"]
    assert info == [
        ("xueji_instance_info", frozenset({("xueji_instance", name), ("tier", "national")}))
    ]
    assert samples[info[0]] == 1
