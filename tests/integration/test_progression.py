"""Progression (升学) across the tiers as separate processes over the real broker, on both
databases: a primary school's grade-6 cohort of 200 progresses to its neighbourhood junior
school in one request (registry, both rosters, the archives moved and the graduating school's
backups), a junior graduate goes on to a high school in another province (the archive handed
over across the border), and each refusal names its rule and article.
Today is 2026-09-07 everywhere (conftest).
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from tests.ids import fresh_resident_id
from tests.integration.conftest import Federation
from tests.integration.registration_support import register, student
from tests.integration.transfer_support import decide_task, party_task
from tests.shared.messaging.harness import eventually

PRIMARY, JUNIOR, COUNTY, HENAN = "4101020001", "4101020002", "410102", "41"
LIANGSHAN_SENIOR = "5134010002"


async def bulk_approve(
    fed: Federation, tier: str, unit: str, school: str, kind: str, n: int
) -> None:
    """Wait for ``n`` open tasks of ``kind`` from ``school`` and approve them in one request."""
    plural = {"county": "counties", "province": "provinces"}[tier]
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        # every page: earlier tests of the package may have left open tasks of this kind
        found.clear()
        offset = 0
        while True:
            page = await fed.get(
                tier,
                unit,
                f"/api/v1/{plural}/{unit}/tasks",
                params={"status": "open", "kind": kind, "limit": 200, "offset": offset},
            )
            assert page.status_code == 200, page.text
            items = page.json()["items"]
            found.extend(t for t in items if t["school_code"] == school)
            if len(items) < 200:
                return len(found) >= n
            offset += 200

    await eventually(listed, timeout=90, interval=0.3)
    response = await fed.post(
        tier,
        unit,
        "/api/v1/tasks/decisions",
        json={"decisions": [{"task_id": t["task_id"], "decision": "approve"} for t in found]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["refused"] == 0


async def roster(fed: Federation, school: str, **params: Any) -> dict[str, Any]:
    response = await fed.get(
        "school", school, f"/api/v1/schools/{school}/students", params={"limit": 1000, **params}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def leavers(fed: Federation, school: str, grade: int, n: int) -> list[str]:
    """``n`` students of ``grade`` registered at ``school`` (approved by the county) and
    graduated this summer (the list approved by the county): their student numbers."""
    # enrolled only: earlier tests of the package may have graduated grade-6 students here
    enrolled = await roster(fed, school, grade=grade, status="enrolled")
    before = {s["student_number"] for s in enrolled["items"]}
    for _ in range(n):
        await register(fed, school, student(school, grade=grade))
    await bulk_approve(fed, "county", COUNTY, school, "registration_batch", n)

    async def registered() -> bool:
        return (
            int((await roster(fed, school, grade=grade, status="enrolled"))["total"])
            >= len(before) + n
        )

    await eventually(registered, timeout=120, interval=0.5)
    items = (await roster(fed, school, grade=grade, status="enrolled"))["items"]
    numbers = [s["student_number"] for s in items if s["student_number"] not in before]
    sent = await fed.post(
        "school",
        school,
        f"/api/v1/schools/{school}/graduations",
        json={
            "graduation_year": 2027,
            "items": [{"student_number": x, "outcome": "graduated"} for x in numbers],
        },
    )
    assert sent.status_code == 202, sent.text
    await bulk_approve(fed, "county", COUNTY, school, "graduation_batch", 1)

    async def graduated() -> bool:
        listed = await roster(fed, school, grade=grade, status="graduated")
        return set(numbers) <= {s["student_number"] for s in listed["items"]}

    await eventually(graduated, timeout=90, interval=0.5)
    return numbers


async def progression(fed: Federation, school: str, progression_id: str) -> dict[str, Any]:
    response = await fed.get("school", school, f"/api/v1/progressions/{progression_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def settled(fed: Federation, school: str, progression_id: str, status: str) -> dict[str, Any]:
    async def reached() -> bool:
        return str((await progression(fed, school, progression_id))["status"]) == status

    await eventually(reached, timeout=120, interval=0.3)
    return await progression(fed, school, progression_id)


async def approve_steps(fed: Federation, progression_id: str, parties: list[str]) -> None:
    """Each party's one task for the whole cohort, approved in turn."""
    for unit in parties:
        task = await progression_task(fed, unit, progression_id)
        await decide_task(fed, unit, task["task_id"], "approve")


async def progression_task(fed: Federation, unit: str, progression_id: str) -> dict[str, Any]:
    """The open task of the progression in ``unit``'s list (a school's: its own list)."""
    if not unit.startswith("school:"):
        return await party_task(fed, unit, progression_id, kind="progression_step")
    code = unit.split(":")[1]
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        page = await fed.get(
            "school", code, f"/api/v1/schools/{code}/progression-tasks", params={"status": "open"}
        )
        assert page.status_code == 200, page.text
        found[:] = [t for t in page.json()["items"] if t["transfer_id"] == progression_id]
        return bool(found)

    await eventually(listed, timeout=45, interval=0.1)
    return found[0]


async def test_a_grade_6_cohort_of_200_progresses_in_one_request(fed: Federation) -> None:
    numbers = await leavers(fed, PRIMARY, 6, 200)
    assert len(numbers) >= 200

    asked = await fed.post(
        "school",
        JUNIOR,
        f"/api/v1/schools/{JUNIOR}/progressions",
        json={"from_school": PRIMARY, "graduation_year": 2027},
    )
    assert asked.status_code == 202, asked.text
    pid = asked.json()["progression_id"]

    # one task per party for the whole cohort: Henan's province, the county (both schools'
    # authority), the graduating school
    task = await progression_task(fed, f"province:{HENAN}", pid)
    assert task["item_count"] >= 200
    await approve_steps(fed, pid, [f"province:{HENAN}", f"county:{COUNTY}", f"school:{PRIMARY}"])
    done = await settled(fed, JUNIOR, pid, "completed")
    assert done["counts"].get("progressed", 0) >= 200
    outcomes = {i["named"]: i["outcome"] for i in done["items"]}
    assert all(outcomes[n] == "progressed" for n in numbers)

    async def enrolled_here() -> bool:
        listed = await roster(fed, JUNIOR, grade=7, status="enrolled")
        return set(numbers) <= {s["student_number"] for s in listed["items"]}

    await eventually(enrolled_here, timeout=60, interval=0.5)
    left: dict[str, Any] = {}
    offset, total = 0, 1
    while offset < total:  # the history list, page by page (newest first)
        page = (
            await fed.get(
                "school",
                PRIMARY,
                f"/api/v1/schools/{PRIMARY}/departures",
                params={"limit": 200, "offset": offset},
            )
        ).json()
        left |= {d["student_number"]: d for d in page["items"] if d["subject_id"] == pid}
        offset, total = offset + 200, page["total"]
    assert set(numbers) <= set(left)
    assert {(left[n]["kind"], left[n]["to_school"]) for n in numbers} == {("progression", JUNIOR)}
    for number in numbers[::50]:
        entry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
        assert (entry["school_code"], entry["status"], entry["grade"]) == (JUNIOR, "enrolled", 7)
        # the graduating school keeps only its backup: the student left its live roster
        before = await fed.get("school", PRIMARY, f"/api/v1/schools/{PRIMARY}/students/{number}")
        assert (before.status_code, before.json()["rule"]) == (404, "student_left_school")
        assert JUNIOR in before.json()["message"]

        async def moved(n: str = number) -> bool:
            archive = await fed.get("province", HENAN, f"/api/v1/schools/{JUNIOR}/archives/{n}")
            return archive.status_code == 200

        await eventually(moved, timeout=60, interval=0.3)
        backup = await fed.get(
            "province", HENAN, f"/api/v1/schools/{PRIMARY}/archive-backups/{number}"
        )
        assert backup.status_code == 200, backup.text
        gone = await fed.get("province", HENAN, f"/api/v1/schools/{PRIMARY}/archives/{number}")
        assert gone.status_code == 404

    # the same graduates again: already progressed, with the rule and its article
    again = await fed.post(
        "school",
        JUNIOR,
        f"/api/v1/schools/{JUNIOR}/progressions",
        json={"from_school": PRIMARY, "students": numbers[:2]},
    )
    assert again.status_code == 202, again.text
    refused = await settled(fed, JUNIOR, again.json()["progression_id"], "refused")
    for item in refused["items"]:
        assert (item["outcome"], item["rule"], item["article"]) == (
            "refused", "progression_already_progressed", "N2013 art. 6; HA art. 8",
        )  # fmt: skip
        assert item["message_zh"]


async def test_a_junior_graduate_progresses_across_a_province_border(fed: Federation) -> None:
    number, *_ = await leavers(fed, JUNIOR, 9, 1)
    asked = await fed.post(
        "school",
        LIANGSHAN_SENIOR,
        f"/api/v1/schools/{LIANGSHAN_SENIOR}/progressions",
        json={"from_school": JUNIOR, "students": [number]},
    )
    assert asked.status_code == 202, asked.text
    pid = asked.json()["progression_id"]
    # Henan's own step on its side, then Sichuan's transfer order: the sending school and
    # both authorities
    parties = [f"province:{HENAN}", f"school:{JUNIOR}", f"county:{COUNTY}", "county:513401"]
    await approve_steps(fed, pid, parties)
    await settled(fed, LIANGSHAN_SENIOR, pid, "completed")
    entry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert (entry["school_code"], entry["grade"]) == (LIANGSHAN_SENIOR, 10)

    async def handed_over() -> bool:
        archive = await fed.get(
            "province", "51", f"/api/v1/schools/{LIANGSHAN_SENIOR}/archives/{number}"
        )
        return archive.status_code == 200

    await eventually(handed_over, timeout=60, interval=0.3)
    backup = await fed.get("province", HENAN, f"/api/v1/schools/{JUNIOR}/archive-backups/{number}")
    assert backup.status_code == 200, backup.text
    on_roster = await fed.get(
        "school", LIANGSHAN_SENIOR, f"/api/v1/schools/{LIANGSHAN_SENIOR}/students/{number}"
    )
    assert (on_roster.json()["status"], on_roster.json()["grade"]) == ("enrolled", 10)


async def test_each_refusal_names_its_rule_and_article(fed: Federation) -> None:
    # a wrong stage is refused by the receiving school at once
    wrong = await fed.post(
        "school",
        LIANGSHAN_SENIOR,
        f"/api/v1/schools/{LIANGSHAN_SENIOR}/progressions",
        json={"from_school": PRIMARY, "graduation_year": 2027},
    )
    assert wrong.status_code == 422
    assert (wrong.json()["rule"], wrong.json()["article"]) == (
        "progression_wrong_stage", "LS 1(二); LS 3(二)",
    )  # fmt: skip

    # national's rules, student by student: not graduated, unknown, another school's
    await register(fed, PRIMARY, student(PRIMARY, grade=6))
    await bulk_approve(fed, "county", COUNTY, PRIMARY, "registration_batch", 1)

    async def one_enrolled() -> list[str]:
        return [
            s["student_number"]
            for s in (await roster(fed, PRIMARY, grade=6, status="enrolled"))["items"]
        ]

    async def some() -> bool:
        return bool(await one_enrolled())

    await eventually(some, timeout=60, interval=0.3)
    enrolled = (await one_enrolled())[0]
    unknown = "G" + fresh_resident_id(random.Random(7), "410102", date(2014, 1, 1), "male")
    asked = await fed.post(
        "school",
        JUNIOR,
        f"/api/v1/schools/{JUNIOR}/progressions",
        json={"from_school": PRIMARY, "students": [enrolled, unknown]},
    )
    assert asked.status_code == 202, asked.text
    refused = await settled(fed, JUNIOR, asked.json()["progression_id"], "refused")
    found = {i["named"]: (i["rule"], i["article"]) for i in refused["items"]}
    assert found == {
        enrolled: ("progression_not_graduated", "N2013 art. 13; ZJ art. 25"),
        unknown: ("progression_unknown_student", "N2013 art. 5"),
    }
