"""The request boundary commits (``shared.runtime.app.UnitOfWorkDep``), through the real school
service on SQLite and PostgreSQL: once the endpoint returned and before the response leaves, so
a change that does not commit never answers 2xx, and a refusal after a write keeps nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.school.adapters.orm import registration as registration_table
from services.school.service_layer import registration
from shared.audit.tables import audit_entry
from shared.messaging.tables import outbox
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict
from shared.security.testing import UnitAuth
from tests.services.school.conftest import PRIMARY, Service
from tests.services.school.test_http import STUDENTS, form

pytestmark = pytest.mark.broker


async def count(service: Service, table: Any) -> int:
    async with service.runtime.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def outcomes(service: Service) -> list[str]:
    async with service.runtime.sessions() as session:
        query = select(audit_entry.c.outcome).order_by(audit_entry.c.seq)
        return list((await session.execute(query)).scalars())


def client_of(service: Service) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://school", auth=UnitAuth(f"school:{PRIMARY.code}")
    )


async def test_a_change_commits_with_its_messages_before_the_response(service: Service) -> None:
    response = await service.client.post(STUDENTS, json=form())

    assert response.status_code == 202, response.text
    assert await count(service, registration_table) == 1
    assert await count(service, outbox) == 2  # filed with the province, sent to the county
    assert await outcomes(service) == ["ok"]


async def test_a_commit_that_fails_answers_500_never_202(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the commit run after the response was sent, the client would hold a 202 for a
    registration that does not exist."""

    async def failing(_uow: UnitOfWork) -> None:
        raise RuntimeError("the database went away at commit")

    monkeypatch.setattr(UnitOfWork, "commit", failing)
    async with client_of(service) as client:
        response = await client.post(STUDENTS, json=form())

    assert response.status_code == 500
    assert (await count(service, registration_table), await count(service, outbox)) == (0, 0)
    assert await outcomes(service) == ["failed RuntimeError"]


async def test_a_refusal_after_the_writes_keeps_none_of_them(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service layer wrote the registration, then refused: the request rolls back."""
    staged: list[Any] = []

    async def refuse_after_writing(session: Any, batches: Any) -> None:
        await real_store(session, batches)
        staged.append(batches)
        raise Conflict("refused after the writes", rule="test_refusal")

    real_store = registration.store_batches
    monkeypatch.setattr(registration, "store_batches", refuse_after_writing)
    response = await service.client.post(STUDENTS, json=form())

    assert (response.status_code, response.json()["rule"]) == (409, "test_refusal")
    assert staged  # the writes did run
    assert (await count(service, registration_table), await count(service, outbox)) == (0, 0)
    assert await outcomes(service) == ["refused 409 test_refusal"]
