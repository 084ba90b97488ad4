"""Every running instance is observable: ``/metrics`` with the kernel's metrics, live values."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from devtools.launcher import LocalFederation
from tests.integration.conftest import Federation
from tests.shared.messaging.harness import eventually

KERNEL_FAMILIES = {
    "xueji_messages_in",
    "xueji_messages_retried",
    "xueji_messages_dead_lettered",
    "xueji_messages_published",
    "xueji_consumer_batches",
    "xueji_broker_connected",
    "xueji_outbox_backlog_messages",
    "xueji_outbox_oldest_unsent_age_seconds",
    "xueji_http_request_duration_seconds",
}


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(fed: Federation, base_url: str) -> Samples:
    response = await fed.http.get(base_url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    missing = KERNEL_FAMILIES - {family.name for family in families}
    assert not missing, f"{base_url} lacks {sorted(missing)}"
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in families
        for s in family.samples
    }


async def test_every_instance_answers_metrics_with_the_kernel_metrics(
    federation: LocalFederation, fed: Federation
) -> None:
    described = json.loads(federation.federation_json.read_text())
    for entry in described["instances"]:
        samples = await scrape(fed, entry["base_url"])
        assert samples[("xueji_broker_connected", frozenset())] == 1, entry["name"]
        assert ("xueji_outbox_backlog_messages", frozenset()) in samples


async def test_a_round_trip_shows_in_both_instances_metrics(fed: Federation) -> None:
    school = fed.url("school", "4101020001", "")
    national = fed.url("national", "CN", "")
    ping = ("xueji_messages_published_total", frozenset({("type", "diagnostics.ping")}))
    applied = (
        "xueji_messages_in_total",
        frozenset({("type", "diagnostics.ping"), ("outcome", "applied")}),
    )
    published_before = (await scrape(fed, school)).get(ping, 0)
    applied_before = (await scrape(fed, national)).get(applied, 0)

    sent = await fed.post(
        "school",
        "4101020001",
        "/api/v1/diagnostics/pings",
        json={"source": "school:4101020001", "target": "national:CN"},
    )
    assert sent.status_code == 202, sent.text

    async def counted() -> bool:
        return (await scrape(fed, national)).get(applied, 0) > applied_before

    await eventually(counted, timeout=30)
    assert (await scrape(fed, school)).get(ping, 0) > published_before
    latency = await scrape(fed, school)
    assert (
        latency[
            (
                "xueji_http_request_duration_seconds_count",
                frozenset(
                    {("method", "POST"), ("route", "/api/v1/diagnostics/pings"), ("status", "202")}
                ),
            )
        ]
        >= 1
    )
