"""An officer clears the queue in one request, and polls the list conditionally (SQLite and
PostgreSQL, the county's own migrated database; messages applied through its handlers).

- ``POST /api/v1/tasks/decisions``: every task checked and decided as alone, one outcome per
  task (a neighbour county's task and an unknown id are 404 without touching anything, a
  decided one 409), the decided ones' messages staged together, one audit entry per task;
- ``GET …/tasks`` with ``If-None-Match``: 304 without a body and without an audit entry while
  the list is unchanged, 200 with a new ETag once it changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from components.approval_desk.domain import TaskKind, TaskStatus
from components.approval_desk.repository import TaskRepository
from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from services.county.tables import desk_tables
from shared.audit.chain import verify
from shared.audit.tables import audit_entry
from shared.clock import Clock
from shared.db import list_versions
from shared.db.engine import make_engine, make_session_factory
from shared.db.list_versions import ListVersions
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL, Tier
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.principal import Role
from shared.security.testing import UnitAuth, auth_headers
from tests.components.approval_desk.support import (
    ZHONGYUAN,
    deliver,
    migrate,
    settings_for,
    staged,
    unit,
)
from tests.services.county.test_transfer_tasks_http import opened

TODAY = date(2026, 9, 7)
COUNTY = unit(Tier.COUNTY, ZHONGYUAN)
NEIGHBOUR = unit(Tier.COUNTY, "410105")  # hosted by the same instance
TASKS = f"/api/v1/counties/{ZHONGYUAN}/tasks"


@pytest.fixture
async def county(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    await migrate("county", database_url)
    config = federation_copy(tmp_path / "federation")
    settings = settings_for(config, "county-41", database_url, DEFAULT_AMQP_URL)
    app = build_app(settings.model_copy(update={"today": TODAY}))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://county",
            auth=UnitAuth(str(COUNTY)),
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


async def audit_entries(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(audit_entry).order_by(audit_entry.c.seq))
        return list(rows.all())


async def test_an_officer_decides_the_queue_in_one_request(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    mine = [opened(date(2026, 9, 21)) for _ in range(3)]
    for step in mine:
        await deliver(runtime, step, source=NATIONAL, target=COUNTY)
    theirs_step = opened(date(2026, 9, 21)).model_copy(update={"from_school": "4101050001"})
    await deliver(runtime, theirs_step, source=NATIONAL, target=NEIGHBOUR)
    theirs = await client.get(
        f"/api/v1/counties/{NEIGHBOUR.code}/tasks",
        headers=auth_headers(str(NEIGHBOUR), Role.APPROVER),
    )
    [foreign] = [t["task_id"] for t in theirs.json()["items"]]
    listed = (await client.get(TASKS, params={"status": "open"})).json()["items"]
    first, second, third = (t["task_id"] for t in listed)
    unknown = str(uuid.uuid4())
    before = len(await audit_entries(runtime))

    response = await client.post(
        "/api/v1/tasks/decisions",
        json={
            "decisions": [
                {"task_id": first, "decision": "approve"},
                {"task_id": foreign, "decision": "approve"},
                {
                    "task_id": second,
                    "decision": "reject",
                    "reason": "证明不清",
                },
                {"task_id": unknown, "decision": "approve"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["task_id"], r["status"], r["task_status"], r["rule"]) for r in body["results"]] == [
        (first, 200, "approved", None),
        (foreign, 404, None, "task_not_found"),
        (second, 200, "rejected", None),
        (unknown, 404, None, "task_not_found"),
    ]
    assert (body["decided"], body["refused"]) == (2, 2)

    # The decided ones answered national together; the neighbour's task is untouched.
    sent = await staged(runtime, "transfer.step_decided")
    assert sorted((m.payload["step_id"], m.payload["decision"]) for m in sent) == sorted(
        [(str(mine[0].step_id), "approve"), (str(mine[1].step_id), "reject")]
    )
    assert {m.target for m in sent} == {NATIONAL}
    still = await client.get(
        f"/api/v1/tasks/{foreign}", headers=auth_headers(str(NEIGHBOUR), Role.APPROVER)
    )
    assert still.json()["status"] == "open"

    # One audit entry per task, in the order asked, in a chain that still verifies.
    written = [e for e in (await audit_entries(runtime))[before:] if e.action == "decide"]
    assert [(e.action, e.object_id, e.unit_code, e.outcome, e.purpose) for e in written] == [
        ("decide", first, ZHONGYUAN, "ok", None),
        ("decide", foreign, None, "refused 404 task_not_found", None),
        ("decide", second, ZHONGYUAN, "ok", "证明不清"),
        ("decide", unknown, None, "refused 404 task_not_found", None),
    ]
    assert {e.route for e in written} == {"POST /api/v1/tasks/decisions"}
    assert {e.actor_unit for e in written} == {str(COUNTY)}
    async with runtime.sessions() as session:
        assert (await verify(session, runtime.audit.key)).ok

    # Deciding again: 409 for the decided, the open one decided now.
    again = await client.post(
        "/api/v1/tasks/decisions",
        json={
            "decisions": [
                {"task_id": first, "decision": "approve"},
                {"task_id": third, "decision": "approve"},
            ]
        },
    )
    assert [(r["status"], r["rule"]) for r in again.json()["results"]] == [
        (409, "task_already_decided"),
        (200, None),
    ]
    assert len(await staged(runtime, "transfer.step_decided")) == 3


async def test_a_bulk_request_is_refused_whole_only_for_its_form_or_its_caller(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    await deliver(runtime, opened(date(2026, 9, 21)), source=NATIONAL, target=COUNTY)
    [task] = (await client.get(TASKS)).json()["items"]
    item = {"task_id": task["task_id"], "decision": "approve"}
    twice = await client.post("/api/v1/tasks/decisions", json={"decisions": [item, item]})
    assert twice.status_code == 422
    empty = await client.post("/api/v1/tasks/decisions", json={"decisions": []})
    assert empty.status_code == 422
    no_reason = {**item, "decision": "reject"}
    assert (
        await client.post("/api/v1/tasks/decisions", json={"decisions": [no_reason]})
    ).status_code == 422
    registrar = await client.post(
        "/api/v1/tasks/decisions",
        json={"decisions": [item]},
        headers=auth_headers(str(COUNTY), Role.REGISTRAR),
    )
    assert (registrar.status_code, registrar.json()["rule"]) == (403, "role_required")
    assert await staged(runtime, "transfer.step_decided") == []
    assert (await client.get(f"/api/v1/tasks/{task['task_id']}")).json()["status"] == "open"


async def test_an_unchanged_list_is_304_without_an_audit_entry(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    await deliver(runtime, opened(date(2026, 9, 21)), source=NATIONAL, target=COUNTY)
    first = await client.get(TASKS, params={"status": "open"})
    assert first.status_code == 200
    tag = first.headers["etag"]
    entries = len(await audit_entries(runtime))

    same = await client.get(TASKS, params={"status": "open"}, headers={"If-None-Match": tag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", tag)
    assert len(await audit_entries(runtime)) == entries  # nothing disclosed, nothing recorded

    other_filter = await client.get(
        TASKS, params={"status": "approved"}, headers={"If-None-Match": tag}
    )
    assert other_filter.status_code == 200

    # A new task changes the list: the old ETag no longer matches.
    await deliver(runtime, opened(date(2026, 9, 22)), source=NATIONAL, target=COUNTY)
    changed = await client.get(TASKS, params={"status": "open"}, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["total"] == 2
    assert changed.headers["etag"] != tag
    listed = [e for e in (await audit_entries(runtime))[entries:] if e.action == "list"]
    assert [e.unit_code for e in listed] == [ZHONGYUAN, ZHONGYUAN]  # the two 200s, not the 304

    # Deciding one changes it again; an officer of a neighbour county never gets a 304 for it.
    task_id = changed.json()["items"][0]["task_id"]
    decided = await client.post(
        "/api/v1/tasks/decisions",
        json={"decisions": [{"task_id": task_id, "decision": "approve"}]},
    )
    assert decided.json()["decided"] == 1
    tag = changed.headers["etag"]
    after = await client.get(TASKS, params={"status": "open"}, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.json()["total"] == 1
    neighbour = await client.get(
        TASKS,
        params={"status": "open"},
        headers={
            **auth_headers(str(NEIGHBOUR), Role.APPROVER),
            "If-None-Match": after.headers["etag"],
        },
    )
    assert neighbour.status_code == 404


async def test_a_304_reads_the_list_version_not_the_tasks(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """An unchanged list costs one row read (decision 0020): the poll answering 304 runs no
    statement over the tasks; the one answering 200 does."""
    runtime, client = county
    await deliver(runtime, opened(date(2026, 9, 21)), source=NATIONAL, target=COUNTY)
    first = await client.get(TASKS, params={"status": "open"})
    tag = {"If-None-Match": first.headers["etag"]}
    with recorded_statements(runtime.engine) as polled:
        assert (await client.get(TASKS, params={"status": "open"}, headers=tag)).status_code == 304
    with recorded_statements(runtime.engine) as statements:
        assert (await client.get(TASKS, params={"status": "approved"})).status_code == 200
    assert any("list_version" in s for s in polled)
    assert not any("desk_task" in s for s in polled)
    assert any("FROM desk_task" in s for s in statements)


async def test_the_etag_follows_the_unit_and_the_day(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """A task opened at a neighbour county hosted by the same instance leaves this county's
    ETag as it was; a new day changes it (the overdue flags are as of today)."""
    runtime, client = county
    await deliver(runtime, opened(date(2026, 9, 21)), source=NATIONAL, target=COUNTY)
    tag = (await client.get(TASKS)).headers["etag"]

    theirs = opened(date(2026, 9, 21)).model_copy(update={"from_school": "4101050001"})
    await deliver(runtime, theirs, source=NATIONAL, target=NEIGHBOUR)
    neighbour = await client.get(
        f"/api/v1/counties/{NEIGHBOUR.code}/tasks",
        headers=auth_headers(str(NEIGHBOUR), Role.APPROVER),
    )
    assert neighbour.json()["total"] == 1
    assert (await client.get(TASKS, headers={"If-None-Match": tag})).status_code == 304

    runtime.clock = Clock(date(2026, 9, 22))  # the step falls due on 09-21: overdue now
    later = await client.get(TASKS, headers={"If-None-Match": tag})
    assert later.status_code == 200 and later.headers["etag"] != tag
    assert later.json()["items"][0]["overdue"] is True


async def test_a_long_poll_is_answered_when_the_list_changes(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """``wait`` with the current ETag: no answer until a task opens (then 200 at once, with
    the new page), or a 304 once the wait is over."""
    runtime, client = county
    tag = {"If-None-Match": (await client.get(TASKS)).headers["etag"]}
    started = asyncio.get_running_loop().time()
    timed_out = await client.get(TASKS, params={"wait": 0.3}, headers=tag)
    assert timed_out.status_code == 304
    assert asyncio.get_running_loop().time() - started >= 0.3

    poll = asyncio.create_task(client.get(TASKS, params={"wait": 20}, headers=tag))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = asyncio.get_running_loop().time()
    await deliver(runtime, opened(date(2026, 9, 21)), source=NATIONAL, target=COUNTY)
    answered = await asyncio.wait_for(poll, 5)
    assert answered.status_code == 200 and answered.json()["total"] == 1
    assert answered.headers["etag"] != tag["If-None-Match"]
    assert asyncio.get_running_loop().time() - started < 0.5  # woken, not re-read a second later

    stale = await client.get(TASKS, params={"wait": 20}, headers=tag)  # an old ETag: at once
    assert stale.status_code == 200 and stale.headers["etag"] == answered.headers["etag"]
    assert (await client.get(TASKS, params={"wait": 31})).status_code == 422


async def test_a_long_poll_sees_a_change_committed_by_another_replica(
    county: tuple[ServiceRuntime, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica's commit wakes nobody here: the waiting poll re-reads the version every
    ``RECHECK_SECONDS`` and answers at the first re-read after the change."""
    runtime, client = county
    monkeypatch.setattr(list_versions, "RECHECK_SECONDS", 0.1)
    tag = {"If-None-Match": (await client.get(TASKS)).headers["etag"]}
    poll = asyncio.create_task(client.get(TASKS, params={"wait": 20}, headers=tag))
    await asyncio.sleep(0.3)
    assert not poll.done()

    engine = make_engine(runtime.database_url)
    replica = make_session_factory(engine)
    ListVersions(replica)  # the other replica's own hooks: they bump, but wake only its polls
    try:
        now = runtime.clock.now()
        async with replica() as session, session.begin():
            await TaskRepository(session, desk_tables).add(
                {
                    "task_id": uuid.uuid4(),
                    "kind": TaskKind.TRANSFER_STEP,
                    "status": TaskStatus.OPEN,
                    "unit": COUNTY,
                    "school_code": "4101020001",
                    "subject_id": uuid.uuid4(),
                    "item_count": 0,
                    "finding_count": 0,
                    "details": {},
                    "opened_at": now,
                    "correlation_id": uuid.uuid4(),
                    "message_id": uuid.uuid4(),
                }
            )
    finally:
        await engine.dispose()
    answered = await asyncio.wait_for(poll, 5)
    assert answered.status_code == 200 and answered.json()["total"] == 1


async def test_an_offset_past_int32_is_an_empty_page(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """The page's offset binds as a BIGINT: PostgreSQL refused 2**31 as an INTEGER (a 500)."""
    _, client = county
    page = await client.get(TASKS, params={"offset": 2**31})
    assert page.status_code == 200 and page.json()["items"] == []
