"""Status checks for registered client systems (N2025 art. 24), through national's real app
on SQLite and PostgreSQL: a national operator registers a client; the client checks with its
own credentials, for a declared purpose, claims its purpose allows; every call is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from devtools.testing import federation_copy, instance_name
from services.national.adapters.orm import RegistryEntry
from services.national.bootstrap import build_app
from shared.audit.tables import audit_entry
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.services.national.builders import NationalDriver, basic, batch

pytestmark = pytest.mark.broker

AID_PURPOSE = {
    "code": "student_aid",
    "claims": ["enrolled", "county", "grade"],
    "basis": "社会救助暂行办法",
}
AID: dict[str, Any] = {
    "client_id": "mz-aid",
    "name": "民政救助信息系统",
    "purposes": [AID_PURPOSE],
    "rate_per_minute": 3,
}


@pytest.fixture
async def app(tmp_path: Path, national_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    config = federation_copy(tmp_path)
    settings = ServiceSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=national_url,
        amqp_url=amqp_url,
    )
    application = build_app(settings)
    runtime: ServiceRuntime = application.state.runtime
    await runtime.start()
    try:
        yield application
    finally:
        await runtime.stop()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Accept-Language": "zh-CN"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://national", headers=headers
    ) as client:
        yield client


async def _register(http: httpx.AsyncClient, body: dict[str, Any] = AID) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/status-clients", json=body, headers=auth_headers("national:CN", Role.OPERATOR)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _student(national: NationalDriver) -> str:
    await national.deliver(batch(basic("张三", "male", date(2018, 3, 7))))
    async with national.sessions() as session:
        entry = (
            await session.execute(select(RegistryEntry).where(RegistryEntry.name == "张三"))
        ).scalar_one()
    return entry.student_number


def _check(number: str, **claims: Any) -> dict[str, Any]:
    return {"purpose": "student_aid", "subject": {"student_number": number}, "claims": claims}


async def test_a_registered_client_gets_yes_or_no_for_its_purposes_claims_only(
    http: httpx.AsyncClient, national: NationalDriver, app: FastAPI
) -> None:
    number = await _student(national)
    secret = (await _register(http))["secret"]
    auth = ("mz-aid", secret)

    answered = await http.post(
        "/api/v1/status-checks",
        json=_check(number, enrolled=True, county="410102", grade=2),
        auth=auth,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["answers"] == {"enrolled": True, "county": True, "grade": False}
    assert set(answered.json()) == {"purpose", "as_of", "answers"}  # nothing beyond the claims

    elsewhere = await http.post(
        "/api/v1/status-checks", json=_check(number, county="330102"), auth=auth
    )
    assert elsewhere.json()["answers"] == {"county": False}
    unknown = await http.post(
        "/api/v1/status-checks", json=_check("G000000000000000001", enrolled=True), auth=auth
    )
    assert unknown.json()["answers"] == {"enrolled": False}

    beyond = await http.post("/api/v1/status-checks", json=_check(number, name="张三"), auth=auth)
    assert beyond.status_code == 403
    assert (beyond.json()["code"], beyond.json()["article"]) == (
        "status_claim_beyond_purpose",
        "N2025 art. 24",
    )
    assert beyond.json()["message_zh"].startswith("所查事项超出该用途登记的范围。")
    other_purpose = {**_check(number, enrolled=True), "purpose": "school_meals"}
    undeclared = await http.post("/api/v1/status-checks", json=other_purpose, auth=auth)
    assert (undeclared.status_code, undeclared.json()["code"]) == (
        403,
        "status_purpose_undeclared",
    )

    runtime: ServiceRuntime = app.state.runtime
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(audit_entry).where(audit_entry.c.object_type == "student_status")
            )
        ).all()
    assert [(r.actor, r.purpose, r.object_id, r.outcome) for r in rows[:3]] == [
        ("client:mz-aid", "student_aid", number, "ok enrolled=yes county=yes grade=no"),
        ("client:mz-aid", "student_aid", number, "ok county=no"),
        ("client:mz-aid", "student_aid", "G000000000000000001", "ok enrolled=no"),
    ]
    assert rows[3].outcome == "refused 403 status_claim_beyond_purpose"


async def test_wrong_or_revoked_credentials_are_401_and_an_officers_token_is_no_client(
    http: httpx.AsyncClient, national: NationalDriver
) -> None:
    number = await _student(national)
    secret = (await _register(http))["secret"]
    body = _check(number, enrolled=True)

    wrong = await http.post("/api/v1/status-checks", json=body, auth=("mz-aid", secret + "x"))
    unknown = await http.post("/api/v1/status-checks", json=body, auth=("nobody", secret))
    officer = await http.post(
        "/api/v1/status-checks", json=body, headers=auth_headers("national:CN", Role.AUDITOR)
    )
    for refused in (wrong, unknown, officer):
        assert refused.status_code == 401
        assert refused.json()["code"] == "client_credentials_invalid"
        assert refused.headers["www-authenticate"].startswith("Basic")

    revoked = await http.post(
        "/api/v1/status-clients/mz-aid/revocation",
        headers=auth_headers("national:CN", Role.OPERATOR),
    )
    assert revoked.json()["revoked_at"] is not None
    after = await http.post("/api/v1/status-checks", json=body, auth=("mz-aid", secret))
    assert after.status_code == 401


async def test_the_clients_rate_and_the_register_belong_to_nationals_operators(
    http: httpx.AsyncClient, national: NationalDriver
) -> None:
    number = await _student(national)
    secret = (await _register(http))["secret"]
    statuses = [
        (
            await http.post(
                "/api/v1/status-checks", json=_check(number, enrolled=True), auth=("mz-aid", secret)
            )
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]

    listed = await http.get(
        "/api/v1/status-clients", headers=auth_headers("national:CN", Role.OPERATOR)
    )
    [client] = listed.json()["items"]
    assert client["purposes"][0]["claims"] == ["enrolled", "county", "grade"]
    assert "secret" not in client and "secret_hash" not in client
    province = await http.get(
        "/api/v1/status-clients", headers=auth_headers("province:41", Role.OPERATOR)
    )
    assert province.status_code == 404
    again = await http.post(
        "/api/v1/status-clients", json=AID, headers=auth_headers("national:CN", Role.OPERATOR)
    )
    assert (again.status_code, again.json()["code"]) == (409, "status_client_exists")
    bad = {**AID, "client_id": "other", "purposes": [{**AID_PURPOSE, "claims": ["hukou"]}]}
    refused = await http.post(
        "/api/v1/status-clients", json=bad, headers=auth_headers("national:CN", Role.OPERATOR)
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "status_claim_unknown")
