"""The province as registry authority of its direct schools, on SQLite and PostgreSQL.

Both roles live in one service: a rejection the province decides as authority is addressed to
the province itself too, and its archive then drops the pending extended info.
"""

from __future__ import annotations

from shared.federation.config import NATIONAL, Tier
from tests.components.approval_desk.support import (
    PROVINCE_DIRECT,
    apply,
    batch,
    deliver,
    filing,
    staged,
    unit,
)
from tests.services.province.support import HENAN, Province

DIRECT_SCHOOL = unit(Tier.SCHOOL, PROVINCE_DIRECT)


async def test_province_direct_batches_are_province_tasks(province: Province) -> None:
    submitted = batch(PROVINCE_DIRECT, size=2)
    await deliver(province.runtime, submitted, source=DIRECT_SCHOOL, target=HENAN)

    page = (await province.client.get("/api/v1/provinces/41/tasks")).json()
    assert page["total"] == 1
    [task] = page["items"]
    assert (task["authority_unit"], task["school_code"]) == ("province:41", PROVINCE_DIRECT)
    assert task["school_name"] == "河南省实验中学"
    assert (await province.client.get("/api/v1/provinces/33/tasks")).status_code == 404

    response = await province.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve"},
    )
    assert response.status_code == 200, response.text
    [approved] = await staged(province.runtime)
    assert approved.target == NATIONAL and approved.source == HENAN
    assert approved.payload["authority"] == "province:41"


async def test_a_rejection_by_the_province_clears_its_own_pending_archive(
    province: Province,
) -> None:
    submitted = batch(PROVINCE_DIRECT, size=1)
    await deliver(province.runtime, filing(submitted), source=DIRECT_SCHOOL, target=HENAN)
    await deliver(province.runtime, submitted, source=DIRECT_SCHOOL, target=HENAN)
    assert set((await province.stored()).values()) == {"pending"}
    [task] = (await province.client.get("/api/v1/provinces/41/tasks")).json()["items"]

    response = await province.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "reject", "reason": "not a pupil here"},
    )
    assert response.status_code == 200, response.text

    sent = await staged(province.runtime)
    assert {str(e.target) for e in sent} == {f"school:{PROVINCE_DIRECT}", "province:41"}
    [to_itself] = [e for e in sent if e.target == HENAN]
    await apply(province.runtime, to_itself)
    assert await province.stored() == {}
