"""The federation runs for real: separate processes, one broker, messages round-trip."""

from __future__ import annotations

import json
import stat

from devtools.launcher import LocalFederation
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


async def test_a_seeded_account_logs_in_and_its_token_works_across_services(
    federation: LocalFederation, fed: Federation
) -> None:
    mode = stat.S_IMODE(federation.dev_credentials.stat().st_mode)
    assert mode == 0o600
    username, password = federation.dev_account("school", "4101020001")
    token_url = fed.url("school", "4101020001", "/api/v1/auth/token")

    wrong = await fed.http.post(token_url, data={"username": username, "password": "nope"})
    assert (wrong.status_code, wrong.json()["rule"]) == (401, "invalid_credentials")
    login = await fed.http.post(token_url, data={"username": username, "password": password})
    assert login.status_code == 200, login.text
    assert login.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}

    roster = fed.url("school", "4101020001", "/api/v1/schools/4101020001/students")
    assert (await fed.http.get(roster, headers=bearer)).status_code == 200
    assert (await fed.http.get(roster)).status_code == 401
    neighbour = fed.url("school", "4101020002", "/api/v1/schools/4101020002/students")
    assert (await fed.http.get(neighbour, headers=bearer)).status_code == 404
    # verified by another process, without a login there
    registry = fed.url("national", "CN", "/api/v1/registry")
    mine = await fed.http.get(registry, params={"school_code": "4101020001"}, headers=bearer)
    assert mine.status_code == 200, mine.text
    other = await fed.http.get(registry, params={"school_code": "4101020002"}, headers=bearer)
    assert other.status_code == 404
