"""Graduation and discipline across the tiers as separate processes over the real broker:
the school's graduating list decided by its county, applied at national, reflected on the
roster and in the province archive (every discipline record removed, ZJ art. 23), and a
refused rollback. Today is 2026-09-07 everywhere (conftest): the open graduation year is 2027.
"""

from __future__ import annotations

from typing import Any

from shared.security.principal import Role
from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task, register, settled, student
from tests.shared.messaging.harness import eventually

SCHOOL, COUNTY, PROVINCE = "4101020001", "410102", "41"
# The school's registrar records discipline in the province's archive (ZJ art. 23).


async def sixth_graders(fed: Federation, count: int) -> list[str]:
    """``count`` grade-6 students of the school, registered and approved by the county."""
    ids = [await register(fed, SCHOOL, student(SCHOOL, grade=6)) for _ in range(count)]
    for _ in ids:
        task = await open_task(fed, "county", COUNTY, SCHOOL, "registration_batch")
        assert (await decide(fed, "county", COUNTY, task["task_id"], "approve")).status_code == 200
    return [(await settled(fed, SCHOOL, i, "approved"))["student_number"] for i in ids]


def records_path(number: str) -> str:
    return f"/api/v1/schools/{SCHOOL}/archives/{number}/discipline-records"


async def discipline(fed: Federation, number: str) -> list[dict[str, Any]]:
    response = await fed.get("province", PROVINCE, records_path(number))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


async def graduation_list(fed: Federation, batch_id: str) -> dict[str, Any]:
    response = await fed.get("school", SCHOOL, f"/api/v1/schools/{SCHOOL}/graduations/{batch_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def submit(fed: Federation, items: list[dict[str, str]]) -> Any:
    return await fed.post(
        "school",
        SCHOOL,
        f"/api/v1/schools/{SCHOOL}/graduations",
        json={"graduation_year": 2027, "items": items},
    )


async def test_graduation_is_applied_everywhere_and_never_rolled_back(fed: Federation) -> None:
    graduate, completer = await sixth_graders(fed, 2)

    # discipline (ZJ arts. 22-23): one served and lifted, one still in force
    served = await fed.post(
        "province",
        PROVINCE,
        records_path(graduate),
        json={"kind": "warning", "reason": "多次迟到", "imposed_on": "2026-01-05"},
        headers=fed.auth(f"school:{SCHOOL}", Role.REGISTRAR),
    )
    assert served.status_code == 201, served.text
    early = await fed.post(
        "province",
        PROVINCE,
        f"{records_path(graduate)}/{served.json()['record_id']}/lifting",
        json={"lifted_on": "2026-06-01"},
        headers=fed.auth(f"school:{SCHOOL}", Role.REGISTRAR),
    )
    assert (early.status_code, early.json()["rule"]) == (422, "discipline_term_not_served")
    lifted = await fed.post(
        "province",
        PROVINCE,
        f"{records_path(graduate)}/{served.json()['record_id']}/lifting",
        json={},
        headers=fed.auth(f"school:{SCHOOL}", Role.REGISTRAR),
    )
    assert lifted.status_code == 200 and lifted.json()["in_force"] is False
    in_force = await fed.post(
        "province",
        PROVINCE,
        records_path(graduate),
        json={"kind": "demerit", "reason": "打架", "imposed_on": "2026-08-20"},
        headers=fed.auth(f"school:{SCHOOL}", Role.REGISTRAR),
    )
    assert in_force.status_code == 201
    assert [r["in_force"] for r in await discipline(fed, graduate)] == [False, True]

    # the list: one request, one task at the county
    sent = await submit(
        fed,
        [
            {"student_number": graduate, "outcome": "graduated"},
            {"student_number": completer, "outcome": "completed"},
        ],
    )
    assert sent.status_code == 202, sent.text
    batch_id = sent.json()["batch_id"]
    task = await open_task(fed, "county", COUNTY, SCHOOL, "graduation_batch")
    read = await fed.get("county", COUNTY, f"/api/v1/tasks/{task['task_id']}")
    assert read.status_code == 200, read.text
    assert read.json()["graduation"]["counts"] == {"graduated": 1, "completed": 1}
    assert (await decide(fed, "county", COUNTY, task["task_id"], "approve")).status_code == 200

    async def decided() -> bool:
        return (await graduation_list(fed, batch_id))["status"] == "approved"

    await eventually(decided, timeout=45, interval=0.2)
    done = await graduation_list(fed, batch_id)
    assert {i["student_number"]: i["status"] for i in done["items"]} == {
        graduate: "applied",
        completer: "applied",
    }

    # national, the school's roster, the province's archive
    for number, status in ((graduate, "graduated"), (completer, "completed")):
        entry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
        assert (entry["status"], entry["grade"]) == (status, 6)
        roster = await fed.get("school", SCHOOL, f"/api/v1/schools/{SCHOOL}/students/{number}")
        assert roster.json()["status"] == status

    async def removed() -> bool:
        return await discipline(fed, graduate) == []

    await eventually(removed, timeout=30, interval=0.2)
    archive = await fed.get("province", PROVINCE, f"/api/v1/schools/{SCHOOL}/archives/{graduate}")
    [entry] = [e for e in archive.json()["entries"] if e["kind"] == "graduation"]
    assert entry["data"]["outcome"] == "graduated"
    assert entry["data"]["discipline_entries_removed"] == 3

    # a graduate cannot be rolled back: not on a new list, not by a record either
    again = await submit(fed, [{"student_number": graduate, "outcome": "incomplete"}])
    assert again.status_code == 422
    assert again.json()["errors"][0]["type"] == "graduation_is_final"


async def test_a_rejected_list_changes_nothing(fed: Federation) -> None:
    [number] = await sixth_graders(fed, 1)
    sent = await submit(fed, [{"student_number": number, "outcome": "graduated"}])
    assert sent.status_code == 202, sent.text
    task = await open_task(fed, "county", COUNTY, SCHOOL, "graduation_batch")
    rejected = await decide(fed, "county", COUNTY, task["task_id"], "reject", "名单不全")
    assert rejected.status_code == 200

    async def answered() -> bool:
        return (await graduation_list(fed, sent.json()["batch_id"]))["status"] == "rejected"

    await eventually(answered, timeout=45, interval=0.2)
    entry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert entry["status"] == "enrolled"
    listed = await graduation_list(fed, sent.json()["batch_id"])
    assert (listed["rule"], listed["reason"]) == ("authority_rejected", "名单不全")
