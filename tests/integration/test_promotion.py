"""The August 10 batch promotion across the tiers as separate processes over the real broker
(LS 3(一)): national moves every enrolled non-graduating student up one grade in one
statement, each school applies it to its roster, each province records its view; a graduate
stays where graduation left them. (It runs once per school year, so once in this package.)"""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task, register, settled, student
from tests.shared.messaging.harness import eventually

SCHOOL, COUNTY = "4101020001", "410102"


async def approved(fed: Federation, grade: int) -> str:
    registration_id = await register(fed, SCHOOL, student(SCHOOL, grade=grade))
    task = await open_task(fed, "county", COUNTY, SCHOOL, "registration_batch")
    assert (await decide(fed, "county", COUNTY, task["task_id"], "approve")).status_code == 200
    return str((await settled(fed, SCHOOL, registration_id, "approved"))["student_number"])


async def roster(fed: Federation, number: str) -> dict[str, Any]:
    response = await fed.get("school", SCHOOL, f"/api/v1/schools/{SCHOOL}/students/{number}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_promotion_reaches_every_tier_and_leaves_graduates_alone(
    fed: Federation,
) -> None:
    second_grader = await approved(fed, 2)
    graduate = await approved(fed, 6)
    sent = await fed.post(
        "school",
        SCHOOL,
        f"/api/v1/schools/{SCHOOL}/graduations",
        json={
            "graduation_year": 2027,
            "items": [{"student_number": graduate, "outcome": "graduated"}],
        },
    )
    assert sent.status_code == 202, sent.text
    task = await open_task(fed, "county", COUNTY, SCHOOL, "graduation_batch")
    assert (await decide(fed, "county", COUNTY, task["task_id"], "approve")).status_code == 200

    async def graduated() -> bool:
        return (await roster(fed, graduate))["status"] == "graduated"

    await eventually(graduated, timeout=45, interval=0.2)

    run = await fed.post(
        "national",
        "CN",
        "/api/v1/operations/promotions",
        json={"school_year": 2026, "as_of": "2026-08-10"},
    )
    assert run.status_code == 200, run.text
    assert run.json()["ran"] and run.json()["province_messages"] == 3
    again = await fed.post(
        "national", "CN", "/api/v1/operations/promotions", json={"school_year": 2026}
    )
    assert again.status_code == 200 and again.json()["ran"] is False

    async def promoted_at_school() -> bool:
        return (await roster(fed, second_grader))["grade"] == 3

    await eventually(promoted_at_school, timeout=45, interval=0.2)
    registry = (await fed.get("national", "CN", f"/api/v1/registry/{second_grader}")).json()
    assert registry["grade"] == 3
    for where in (
        (await fed.get("national", "CN", f"/api/v1/registry/{graduate}")).json(),
        await roster(fed, graduate),
    ):
        assert (where["status"], where["grade"]) == ("graduated", 6)

    async def recorded() -> bool:
        view = await fed.get("province", "41", "/api/v1/provinces/41/promotions/2026")
        return view.status_code == 200

    await eventually(recorded, timeout=45, interval=0.2)
    view = (await fed.get("province", "41", "/api/v1/provinces/41/promotions/2026")).json()
    [school] = [s for s in view["schools"] if s["school_code"] == SCHOOL]
    assert school["graduating_grade"] == 6 and school["promoted"].get("2", 0) >= 1

    rollback = await fed.post(
        "school",
        SCHOOL,
        f"/api/v1/schools/{SCHOOL}/graduations",
        json={
            "graduation_year": 2027,
            "items": [{"student_number": graduate, "outcome": "incomplete"}],
        },
    )
    assert rollback.status_code == 422
    assert rollback.json()["errors"][0]["type"] == "graduation_is_final"
