"""A term's re-verification across the tiers as separate processes over the real broker
(N2013 art. 24; N2025 art. 25): Zhejiang opens its campaign at national, a school is told and
confirms its roster, national flags a ghost and a student registered elsewhere, and the
county's officer finds them in the task list."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import register, settled, student
from tests.integration.status_support import change, registered, registry
from tests.shared.messaging.harness import eventually

SCHOOL, OTHER_SCHOOL, COUNTY = "3301020001", "3301060001", "330102"  # Zhejiang approves at once


async def enrolled(fed: Federation, school: str, grade: int) -> str:
    registration_id = await register(fed, school, student(school, grade=grade))
    return str((await settled(fed, school, registration_id, "approved"))["student_number"])


async def test_a_campaign_flags_a_ghost_and_a_student_registered_elsewhere(
    fed: Federation,
) -> None:
    attending = await enrolled(fed, SCHOOL, 3)
    ghost = await enrolled(fed, SCHOOL, 3)
    elsewhere = await enrolled(fed, OTHER_SCHOOL, 2)

    opened = await fed.post(
        "national",
        "CN",
        "/api/v1/operations/verification-campaigns",
        json={"term": "2026-autumn", "scope": "33"},
    )
    assert opened.status_code == 201, opened.text
    campaign_id = opened.json()["campaign_id"]
    again = await fed.post(
        "national",
        "CN",
        "/api/v1/operations/verification-campaigns",
        json={"term": "2026-autumn", "scope": "33"},
    )
    assert (again.status_code, again.json()["rule"]) == (409, "campaign_exists")

    async def told() -> bool:
        listed = await fed.get("school", SCHOOL, f"/api/v1/schools/{SCHOOL}/verification-campaigns")
        return any(c["campaign_id"] == campaign_id for c in listed.json())

    await eventually(told, timeout=45, interval=0.2)
    confirmed = await fed.post(
        "school",
        SCHOOL,
        f"/api/v1/schools/{SCHOOL}/roster-confirmations",
        json={
            "campaign_id": campaign_id,
            "not_attending": [ghost],
            "also_attending": [{"student_number": elsewhere, "grade": 2}],
        },
    )
    assert confirmed.status_code == 202, confirmed.text

    found: list[dict[str, Any]] = []

    async def flagged() -> bool:
        page = await fed.get(
            "county",
            COUNTY,
            f"/api/v1/counties/{COUNTY}/tasks",
            params={"kind": "verification_findings", "status": "open", "limit": 200},
        )
        found[:] = [t for t in page.json()["items"] if t["school_code"] == SCHOOL]
        return bool(found)

    await eventually(flagged, timeout=45, interval=0.2)
    task = (await fed.get("county", COUNTY, f"/api/v1/tasks/{found[0]['task_id']}")).json()
    findings = {f["student_number"]: f["kind"] for f in task["verification"]["findings"]}
    # the federation is shared by the package's tests: another test's students at this school
    # may be findings too (a forced replay leaves one on national's registry, not the roster)
    mine = {n: k for n, k in findings.items() if n in {attending, ghost, elsewhere}}
    assert mine == {ghost: "ghost", elsewhere: "registered_elsewhere"}
    decided = await fed.post(
        "county",
        COUNTY,
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve", "reason": "已核实并整改"},
    )
    assert decided.status_code == 200, decided.text

    view = (await fed.get("national", "CN", f"/api/v1/verification-campaigns/{campaign_id}")).json()
    [result] = [s for s in view["confirmed"] if s["school_code"] == SCHOOL]
    kinds = list(findings.values())
    assert (result["ghosts"], result["mismatches"]) == (
        kinds.count("ghost"),
        kinds.count("registered_elsewhere"),
    )


async def test_a_dropout_not_taken_back_appears_on_the_county_s_unclaimed_list(
    fed: Federation,
) -> None:
    """A student reported as a dropout (through the status-change pipeline) is listed once the
    province's unclaimed_after_days (30) have passed without another school taking them."""
    kid = await registered(fed, "4101020001", grade=4)
    stays = await registered(fed, "4101020001", grade=4)
    assert (await change(fed, kid, "report_dropout"))["status"] == "applied"
    number = kid["student_number"]

    async def listed(as_of: date) -> list[dict[str, Any]]:
        page = await fed.get(
            "national", "CN", "/api/v1/counties/410102/unclaimed", params={"as_of": str(as_of)}
        )
        assert page.status_code == 200, page.text
        assert page.json()["after_days"] == 30
        return [i for i in page.json()["items"] if i["student_number"] == number]

    left_on = date.fromisoformat((await registry(fed, kid))["updated_at"][:10])
    assert await listed(left_on + timedelta(days=5)) == []  # not yet: 30 days
    [item] = await listed(left_on + timedelta(days=32))
    assert (item["status"], item["school_code"], item["grade"]) == ("dropout", "4101020001", 4)
    later = await fed.get(
        "national",
        "CN",
        "/api/v1/counties/410102/unclaimed",
        params={"as_of": str(left_on + timedelta(days=32))},
    )
    assert stays["student_number"] not in {i["student_number"] for i in later.json()["items"]}
    missing = await fed.get("national", "CN", "/api/v1/counties/999999/unclaimed")
    assert missing.status_code == 404


async def test_a_placement_is_reported_by_neither_school(fed: Federation) -> None:
    """N2013 art. 17; ZJ art. 13: an inclusive-placement student registered at one school
    attends another; the link, made through the status-change pipeline, keeps both schools'
    confirmations clean for that student."""
    placed = await registered(fed, OTHER_SCHOOL, grade=3)
    number = placed["student_number"]
    linked = await change(fed, placed, "place", attending_school=SCHOOL, placement="inclusive")
    assert (linked["status"], linked["outcome"]["to_status"]) == ("applied", "enrolled")

    opened = await fed.post(
        "national",
        "CN",
        "/api/v1/operations/verification-campaigns",
        json={"term": "2027-spring", "scope": "33"},
    )
    assert opened.status_code == 201, opened.text
    campaign_id = opened.json()["campaign_id"]

    async def told(school: str) -> bool:
        listed = await fed.get("school", school, f"/api/v1/schools/{school}/verification-campaigns")
        return any(c["campaign_id"] == campaign_id for c in listed.json())

    for school, body in (
        (SCHOOL, {"also_attending": [{"student_number": number, "grade": 3}]}),
        (OTHER_SCHOOL, {"not_attending": [number]}),
    ):
        await eventually(lambda school=school: told(school), timeout=45, interval=0.2)
        confirmed = await fed.post(
            "school",
            school,
            f"/api/v1/schools/{school}/roster-confirmations",
            json={"campaign_id": campaign_id, **body},
        )
        assert confirmed.status_code == 202, confirmed.text

    results: dict[str, Any] = {}

    async def checked() -> bool:
        view = await fed.get("national", "CN", f"/api/v1/verification-campaigns/{campaign_id}")
        results.update({s["school_code"]: s for s in view.json()["confirmed"]})
        return {SCHOOL, OTHER_SCHOOL} <= set(results)

    await eventually(checked, timeout=45, interval=0.2)
    for school in (SCHOOL, OTHER_SCHOOL):
        assert number not in {f["student_number"] for f in results[school]["findings"]}
