"""The federation runs for real: separate processes, one broker, messages round-trip."""

from __future__ import annotations

import json

from shared.federation.launcher import LocalFederation
from tests.integration.conftest import Federation
from tests.shared.messaging.harness import eventually


async def test_every_instance_is_ready_and_described(
    federation: LocalFederation, fed: Federation
) -> None:
    described = json.loads(federation.federation_json.read_text())
    assert {i["name"] for i in described["instances"]} == {i.name for i in federation.instances}
    for entry in described["instances"]:
        response = await fed.http.get(entry["base_url"] + "/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_message_round_trips_between_two_processes(fed: Federation) -> None:
    sent = await fed.post(
        "school",
        "4101020001",
        "/api/v1/diagnostics/pings",
        json={"source": "school:4101020001", "target": "national:CN"},
    )
    assert sent.status_code == 202, sent.text
    probe_id = sent.json()["probe_id"]

    async def answered() -> bool:
        probe = await fed.get("school", "4101020001", f"/api/v1/diagnostics/pings/{probe_id}")
        return probe.json()["answered_at"] is not None

    await eventually(answered, timeout=30)
    probe = (await fed.get("school", "4101020001", f"/api/v1/diagnostics/pings/{probe_id}")).json()
    assert probe["answered_by"].startswith("national")


async def test_a_unit_the_instance_does_not_host_is_not_found(fed: Federation) -> None:
    response = await fed.post(
        "school",
        "4101020001",
        "/api/v1/diagnostics/pings",
        json={"source": "school:3301020001", "target": "national:CN"},
    )
    assert response.status_code == 404
