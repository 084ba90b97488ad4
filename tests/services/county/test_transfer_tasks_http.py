"""The county's transfer tasks over HTTP, on its own migrated database (SQLite and PostgreSQL):
the task list with due dates and overdue flags, one task with its transfer, the decision and
the message it leaves in the outbox, and the task gauge on /metrics. The runtime is not
started: messages are applied through the county's handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from shared.contracts.transfer import ProofRef, StudentSummary, TransferStepOpened
from shared.federation.config import NATIONAL, Tier
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import UnitAuth
from tests.components.approval_desk.support import (
    PRIMARY,
    ZHONGYUAN,
    deliver,
    migrate,
    settings_for,
    staged,
    unit,
)

TODAY = date(2026, 9, 7)
COUNTY = unit(Tier.COUNTY, ZHONGYUAN)


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
            auth=UnitAuth("county:410102"),
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


def opened(due_on: date) -> TransferStepOpened:
    return TransferStepOpened(
        transfer_id=uuid.uuid4(),
        step_id=uuid.uuid4(),
        role="sending_authority",
        student_number="G410102201705010015",
        student=StudentSummary(name="张三", gender="male", birth_date=date(2017, 5, 1), grade=3),
        from_school=PRIMARY,
        to_school="3301020001",
        reason="the family moved to Hangzhou",
        opened_on=date(2026, 8, 20),
        due_on=due_on,
        due_approximate=False,
        proofs=(ProofRef(index=0, kind="application_form"),),
    )


async def test_an_officer_works_the_transfer_tasks(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    late, fresh = opened(date(2026, 9, 3)), opened(date(2026, 9, 21))
    for step in (late, fresh):
        await deliver(runtime, step, source=NATIONAL, target=COUNTY)

    listed = (await client.get(f"/api/v1/counties/{ZHONGYUAN}/tasks")).json()
    assert [(t["kind"], t["due_on"], t["overdue"]) for t in listed["items"]] == [
        ("transfer_step", "2026-09-03", True),
        ("transfer_step", "2026-09-21", False),
    ]
    only_late = (await client.get(f"/api/v1/counties/{ZHONGYUAN}/tasks?overdue=true")).json()
    assert only_late["total"] == 1

    task_id = listed["items"][0]["task_id"]
    task = (await client.get(f"/api/v1/tasks/{task_id}")).json()
    assert task["transfer"]["to_school"] == "3301020001"
    assert task["transfer"]["proofs"][0]["url"].endswith(
        f"/api/v1/transfers/{late.transfer_id}/proofs/0"
    )

    decided = await client.post(
        f"/api/v1/tasks/{task_id}/decision",
        json={"decision": "reject", "reason": "proofs unreadable"},
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["overdue"]) == ("rejected", False)
    [sent] = await staged(runtime, "transfer.step_decided")
    assert sent.target == NATIONAL
    assert (sent.payload["step_id"], sent.payload["decision"]) == (str(late.step_id), "reject")

    metrics = (await client.get("/metrics")).text
    series = 'xueji_desk_tasks{kind="transfer_step",state="%s",unit="county:410102"} %s'
    assert series % ("open", "1.0") in metrics and series % ("overdue", "0.0") in metrics
