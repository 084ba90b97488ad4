"""Every read and change of the school's API leaves one chained audit entry; auditors query them.

Through the real service (ASGI, real broker, both databases): the entry of a change commits
with it, a refusal is recorded with its rule, a read before its data leaves; the trail is
queried by unit, actor and object; ``xueji-ops audit verify`` finds a tampered entry.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from services.school.adapters.orm import registration as registration_table
from shared.audit.tables import audit_entry, audit_pending
from shared.ops.cli import main as ops
from shared.security.testing import UnitAuth
from tests.services.school.conftest import PRIMARY, Service
from tests.services.school.test_http import STUDENTS, form
from tests.services.school.test_promotion import roster_row, seed
from tests.shared.audit import support
from tests.shared.audit.support import Principal, tamper

pytestmark = pytest.mark.broker


REGISTRAR = Principal("li.registrar", "school", PRIMARY.code, frozenset({"registrar"}))
COUNTY_AUDITOR = Principal("wang.auditor", "county", PRIMARY.county, frozenset({"auditor"}))
OTHER_AUDITOR = Principal("zhao.auditor", "county", "410105", frozenset({"auditor"}))


def as_user(service: Service, principal: Principal | None) -> httpx.AsyncClient:
    return support.as_user(service.app, principal, "http://school")


async def entries(service: Service) -> list[Any]:
    async with service.runtime.sessions() as session:
        return list((await session.execute(select(audit_entry).order_by(audit_entry.c.seq))).all())


async def test_a_registration_and_its_entry_commit_together(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        purpose = quote("新生入学登记")
        response = await client.post(STUDENTS, json=form(), headers={"X-Xueji-Purpose": purpose})
    assert response.status_code == 202, response.text
    [entry] = await entries(service)
    assert (entry.actor, entry.actor_unit, entry.actor_roles) == (
        "li.registrar",
        f"school:{PRIMARY.code}",
        "registrar",
    )
    assert (entry.action, entry.object_type, entry.outcome) == ("register", "student", "ok")
    assert (entry.unit_kind, entry.unit_code) == ("school", PRIMARY.code)
    assert entry.client_ip == "10.20.30.40"
    assert entry.purpose == "新生入学登记"
    assert entry.route == "POST /api/v1/schools/{school_code}/students"


async def test_a_refused_change_is_recorded_with_its_rule_and_changes_nothing(
    service: Service,
) -> None:
    body = form()
    async with as_user(service, REGISTRAR) as client:
        assert (await client.post(STUDENTS, json=body)).status_code == 202
        again = await client.post(STUDENTS, json=body)
    assert again.status_code == 409
    first, second = await entries(service)
    assert first.outcome == "ok"
    assert second.outcome == "refused 409 duplicate_registration"
    async with service.runtime.sessions() as session:
        count = await session.execute(select(func.count()).select_from(registration_table))
    assert count.scalar_one() == 1


async def test_reads_are_recorded_one_entry_per_request(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        assert (await client.post(STUDENTS, json=form())).status_code == 202
        assert (await client.post(STUDENTS, json=form())).status_code == 202
        roster = await client.get(STUDENTS)
        missing = await client.get(f"{STUDENTS}/G410102201803070000")
    assert roster.status_code == 200 and missing.status_code == 404
    *_, listed, read = await entries(service)
    assert (listed.action, listed.object_type, listed.object_id) == ("list", "student", None)
    assert (listed.unit_code, listed.outcome) == (PRIMARY.code, "ok")
    assert (read.action, read.object_id) == ("read", "G410102201803070000")
    assert read.outcome.startswith("refused 404")
    # Without a token the request is refused, and recorded with an anonymous actor.
    async with as_user(service, None) as client:
        assert (await client.get(STUDENTS)).status_code == 401
    last = (await entries(service))[-1]
    assert (last.actor, last.outcome[:11]) == ("anonymous", "refused 401")


async def test_an_auditor_queries_the_trail_of_units_under_theirs(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        assert (await client.post(STUDENTS, json=form())).status_code == 202
        assert (await client.get(f"{STUDENTS}/G410102201803070000")).status_code == 404
    async with as_user(service, COUNTY_AUDITOR) as client:
        page = await client.get("/api/v1/audit", params={"actor": "li.registrar"})
        by_object = await client.get("/api/v1/audit", params={"object_id": "G410102201803070000"})
        in_school = await client.get("/api/v1/audit", params={"unit": f"school:{PRIMARY.code}"})
        elsewhere = await client.get("/api/v1/audit", params={"unit": "school:4101020002"})
        above = await client.get("/api/v1/audit", params={"unit": "province:41"})
        future = await client.get("/api/v1/audit", params={"from": "2099-01-01T00:00:00+08:00"})
    assert page.status_code == 200, page.text
    assert [e["action"] for e in page.json()["items"]] == ["register", "read"]
    assert [e["seq"] for e in by_object.json()["items"]] == [2]
    assert len(in_school.json()["items"]) == 2
    assert elsewhere.json()["items"] == []
    assert above.status_code == 404 and above.json()["rule"] == "unit_not_visible"
    assert future.json()["items"] == []
    # reading the trail is audited too
    assert (await entries(service))[-1].object_type == "audit_trail"


async def test_the_trail_needs_an_auditor_of_the_unit(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        refused = await client.get("/api/v1/audit")
    async with as_user(service, OTHER_AUDITOR) as client:
        foreign = await client.get("/api/v1/audit", params={"unit": f"school:{PRIMARY.code}"})
    assert refused.status_code == 403 and refused.json()["rule"] == "role_required"
    assert foreign.status_code == 404 and foreign.json()["rule"] == "unit_not_visible"


async def verify(url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(ops, ["audit", "verify", "--database-url", url], out)
    return code, out.getvalue()


async def test_the_verify_command_finds_an_edited_entry(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        for _ in range(3):
            assert (await client.post(STUDENTS, json=form())).status_code == 202
    url = service.runtime.database_url
    code, text = await verify(url)
    assert code == 0 and "ok, 3 entries" in text
    await tamper(
        service.runtime.sessions, "UPDATE kernel_audit_entry SET actor = 'nobody' WHERE seq = 2"
    )
    code, text = await verify(url)
    assert code == 1 and "BROKEN at entry 2" in text


async def chain(client: httpx.AsyncClient) -> dict[str, Any]:
    """The chain's status, asked until the first walk after the start has finished."""
    for _ in range(50):
        answer = await client.get("/api/v1/audit/chain", params={"unit": f"school:{PRIMARY.code}"})
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] != "verifying":
            return dict(answer.json())
        await asyncio.sleep(0.1)
    raise AssertionError("the first walk of the chain never ended")


async def test_the_auditor_sees_whether_the_chain_holds_and_where_it_broke(
    service: Service,
) -> None:
    async with as_user(service, REGISTRAR) as client:
        for _ in range(3):
            assert (await client.post(STUDENTS, json=form())).status_code == 202
    async with as_user(service, COUNTY_AUDITOR) as client:
        whole = await chain(client)
    assert (whole["status"], whole["broken"]) == ("whole", None)
    assert whole["verified_seq"] == whole["head_seq"] >= 3
    async with as_user(service, REGISTRAR) as client:
        for _ in range(2):
            assert (await client.post(STUDENTS, json=form())).status_code == 202
    edited = whole["head_seq"] + 2  # after the entry of the auditor's own request
    await tamper(
        service.runtime.sessions,
        f"UPDATE kernel_audit_entry SET actor = 'nobody' WHERE seq = {edited}",
    )
    async with as_user(service, COUNTY_AUDITOR) as client:
        broken = await chain(client)
    assert broken["status"] == "broken" and broken["broken"]["seq"] == edited
    assert broken["verified_seq"] == whole["verified_seq"]  # the last head found whole
    async with as_user(service, OTHER_AUDITOR) as client:
        foreign = await client.get("/api/v1/audit/chain", params={"unit": f"school:{PRIMARY.code}"})
    assert (foreign.status_code, foreign.json()["rule"]) == (404, "unit_not_visible")


async def test_no_entry_no_data(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read whose entry cannot be written answers 500, never the data."""
    await seed(service.runtime.sessions, [roster_row(PRIMARY.code, 1, 3)])
    assert "赵敏" in (await service.client.get(STUDENTS)).text

    async def broken(_entry: object) -> int:
        raise RuntimeError("the audit table is unreachable")

    monkeypatch.setattr(service.runtime.audit, "write", broken)
    transport = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)
    auth = UnitAuth(f"school:{PRIMARY.code}")
    async with httpx.AsyncClient(
        transport=transport, base_url="http://school", auth=auth
    ) as client:
        response = await client.get(STUDENTS)
    assert response.status_code == 500
    assert "赵敏" not in response.text


async def pending_count(service: Service) -> int:
    async with service.runtime.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(audit_pending))
    return int(count or 0)


@pytest.mark.parametrize("audit_chaining", ["deferred"])
async def test_deferred_chaining_links_each_entry_after_its_commit(service: Service) -> None:
    """Production's setting (decision 0048): a request's entry commits with its change,
    unchained; the service's chainer links it moments later, and the chain verifies."""
    body = form()
    async with as_user(service, REGISTRAR) as client:
        assert (await client.post(STUDENTS, json=body)).status_code == 202
        assert (await client.post(STUDENTS, json=body)).status_code == 409
        assert (await client.post(STUDENTS, json=form())).status_code == 202
    for _ in range(100):  # the chainer runs 250 ms after a commit
        if await pending_count(service) == 0 and len(await entries(service)) >= 3:
            break
        await asyncio.sleep(0.1)
    assert await pending_count(service) == 0
    assert [e.outcome for e in await entries(service)] == [
        "ok",
        "refused 409 duplicate_registration",
        "ok",
    ]
    async with as_user(service, COUNTY_AUDITOR) as client:
        status = await chain(client)
    assert (status["status"], status["broken"]) == ("whole", None)
    assert status["verified_seq"] == status["head_seq"] >= 3
    code, text = await verify(service.runtime.database_url)
    assert code == 0 and "ok," in text
