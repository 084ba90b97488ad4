"""API steps for the officer's console tests: the federation's development accounts calling the
tiers directly (what a school or another officer did before the page is opened)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from devtools.launcher import LocalFederation
from shared.federation.config import Tier


def base_url(federation: LocalFederation, tier: str, code: str) -> str:
    instance = federation.instance_for_unit(Tier(tier), code)
    return f"http://{instance.host}:{instance.port}"


def client(
    federation: LocalFederation, tier: str, code: str, at: tuple[str, str] | None = None
) -> httpx.Client:
    """An HTTP client of the instance hosting ``at`` (default: ``tier:code``), logged in as
    the dev account of ``tier:code`` (tokens are verified at every instance)."""
    home = base_url(federation, tier, code)
    url = base_url(federation, *at) if at else home
    username, password = federation.dev_account(tier, code)
    answer = httpx.post(
        home + "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def register(federation: LocalFederation, school: str, body: dict[str, Any]) -> str:
    with client(federation, "school", school) as http:
        answer = http.post(f"/api/v1/schools/{school}/students", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["registration_id"])


def registration(federation: LocalFederation, school: str, registration_id: str) -> dict[str, Any]:
    with client(federation, "school", school) as http:
        answer = http.get(f"/api/v1/registrations/{registration_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def until(check: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``check`` until it holds (the tiers answer through the broker)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the federation never reached the expected state"
        time.sleep(0.3)


def settled(
    federation: LocalFederation, school: str, registration_id: str, status: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(registration(federation, school, registration_id))
        return found["status"] == status

    until(reached)
    return found
