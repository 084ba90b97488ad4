"""Registration across the tiers as separate processes over the real broker (issue 3).

Henan (41) approves in the county's task list; Zhejiang (33) approves automatically what
passes every check (config/provinces/33.toml).
"""

from __future__ import annotations

from datetime import date

from tests.integration.conftest import Federation
from tests.integration.registration_support import (
    decide,
    open_task,
    proof,
    register,
    registration,
    settled,
    student,
)
from tests.shared.messaging.harness import eventually

HENAN_SCHOOL, HENAN_COUNTY = "4101020001", "410102"
ZHEJIANG_SCHOOL = "3301020001"


async def test_registration_end_to_end_through_the_county_task_list(fed: Federation) -> None:
    body = student(HENAN_SCHOOL)
    registration_id = await register(fed, HENAN_SCHOOL, body)
    assert (await registration(fed, HENAN_SCHOOL, registration_id))["status"] == "pending"

    task = await open_task(fed, "county", HENAN_COUNTY, HENAN_SCHOOL, "registration_batch")
    decided = await decide(fed, "county", HENAN_COUNTY, task["task_id"], "approve")
    assert decided.status_code == 200, decided.text

    approved = await settled(fed, HENAN_SCHOOL, registration_id, "approved")
    number = approved["student_number"]
    assert number == "G" + body["id_number"]

    registry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert registry["name"] == body["name"] and registry["school_code"] == HENAN_SCHOOL
    assert "guardians" not in registry and "extended" not in registry  # basic info only

    roster = await fed.get(
        "school", HENAN_SCHOOL, f"/api/v1/schools/{HENAN_SCHOOL}/students/{number}"
    )
    assert roster.status_code == 200

    async def archive_active() -> bool:
        r = await fed.get("province", "41", f"/api/v1/provinces/41/archives/{number}")
        return r.status_code == 200 and r.json()["status"] == "active"

    await eventually(archive_active, timeout=30, interval=0.2)
    archive = (await fed.get("province", "41", f"/api/v1/provinces/41/archives/{number}")).json()
    assert archive["extended"]["guardians"][0]["relation"] == "父亲"


async def test_automatic_approval_where_the_province_configures_it(fed: Federation) -> None:
    body = student(ZHEJIANG_SCHOOL)
    registration_id = await register(fed, ZHEJIANG_SCHOOL, body)
    approved = await settled(fed, ZHEJIANG_SCHOOL, registration_id, "approved")
    assert approved["student_number"] == "G" + body["id_number"]


async def test_authority_rejection_reaches_the_school_with_its_reason(fed: Federation) -> None:
    registration_id = await register(fed, HENAN_SCHOOL, student(HENAN_SCHOOL))
    task = await open_task(fed, "county", HENAN_COUNTY, HENAN_SCHOOL, "registration_batch")
    response = await decide(fed, "county", HENAN_COUNTY, task["task_id"], "reject", "缺少户籍证明")
    assert response.status_code == 200, response.text
    rejected = await settled(fed, HENAN_SCHOOL, registration_id, "rejected")
    assert rejected["reason"] == "缺少户籍证明" and rejected["rule"] == "authority_rejected"


async def test_duplicate_is_rejected_naming_the_other_province_and_school(fed: Federation) -> None:
    body = student(ZHEJIANG_SCHOOL)
    first = await register(fed, ZHEJIANG_SCHOOL, body)
    await settled(fed, ZHEJIANG_SCHOOL, first, "approved")

    again = await register(fed, "3301060001", body)  # the same child, another Zhejiang school
    rejected = await settled(fed, "3301060001", again, "rejected")
    assert rejected["rule"] == "duplicate_registration"
    assert ZHEJIANG_SCHOOL in rejected["reason"] and "33" in rejected["reason"]
    assert body["name"] not in rejected["reason"] and body["id_number"] not in rejected["reason"]


async def test_suspect_match_is_held_for_review_then_decided(fed: Federation) -> None:
    original = student(ZHEJIANG_SCHOOL)
    await settled(fed, ZHEJIANG_SCHOOL, await register(fed, ZHEJIANG_SCHOOL, original), "approved")
    twin = student(  # same name, gender and birth date; another valid ID number
        "3301060001",
        name=original["name"],
        birth=date.fromisoformat(original["birth_date"]),
    )
    held_id = await register(fed, "3301060001", twin)
    held = await settled(fed, "3301060001", held_id, "held_for_review")
    assert held["student_number"] is None

    reviews = (
        await fed.get(
            "national", "CN", "/api/v1/reviews", params={"province": "33", "status": "open"}
        )
    ).json()
    [review] = [r for r in reviews["items"] if r["applicant"]["name"] == original["name"]]
    decision = await fed.post(
        "national",
        "CN",
        f"/api/v1/reviews/{review['review_id']}/decision",
        json={"decision": "issue", "reason": "同名同生日，不同人"},
    )
    assert decision.status_code == 200, decision.text
    issued = await settled(fed, "3301060001", held_id, "approved")
    assert issued["student_number"] == "G" + twin["id_number"]


async def test_invalid_id_number_is_refused_at_the_school(fed: Federation) -> None:
    body = student(HENAN_SCHOOL)
    last = body["id_number"][-1]
    body["id_number"] = body["id_number"][:-1] + ("0" if last != "0" else "1")
    response = await fed.post(
        "school", HENAN_SCHOOL, f"/api/v1/schools/{HENAN_SCHOOL}/students", json=body
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"][-1] == "id_number" and error["type"] == "resident_id.check_character"
    assert "MOD 11-2" in error["msg"]


async def test_key_field_change_is_deduplicated_again_nationally(fed: Federation) -> None:
    taken = student("3301060001")  # registered at another school: only national knows it
    await settled(fed, "3301060001", await register(fed, "3301060001", taken), "approved")
    # Born the same day (so the school's own ID/birth-date check passes), different names.
    mine = student(ZHEJIANG_SCHOOL, birth=date.fromisoformat(taken["birth_date"]))
    number = (
        await settled(fed, ZHEJIANG_SCHOOL, await register(fed, ZHEJIANG_SCHOOL, mine), "approved")
    )["student_number"]

    async def change(changes: dict[str, str]) -> str:
        response = await fed.post(
            "school",
            ZHEJIANG_SCHOOL,
            f"/api/v1/schools/{ZHEJIANG_SCHOOL}/students/{number}/key-field-changes",
            json={"changes": changes, "reason": "户籍更正", "proofs": [proof()]},
        )
        assert response.status_code == 202, response.text
        change_id = str(response.json()["change_id"])
        task = await open_task(fed, "county", "330102", ZHEJIANG_SCHOOL, "key_field_change")
        assert (
            await decide(fed, "county", "330102", task["task_id"], "approve")
        ).status_code == 200
        return change_id

    async def outcome(change_id: str) -> dict[str, object]:
        async def decided() -> bool:
            r = await fed.get("school", ZHEJIANG_SCHOOL, f"/api/v1/key-field-changes/{change_id}")
            return r.json()["status"] != "submitted"

        await eventually(decided, timeout=45, interval=0.2)
        return dict(
            (
                await fed.get("school", ZHEJIANG_SCHOOL, f"/api/v1/key-field-changes/{change_id}")
            ).json()
        )

    # Taking another registered child's ID number is refused by the national re-check.
    refused = await outcome(
        await change({"id_number": taken["id_number"], "id_type": "resident_id"})
    )
    assert refused["status"] == "rejected" and refused["rule"] == "duplicate_registration"

    # A plain name correction is applied at every tier.
    applied = await outcome(await change({"name": "李更正"}))
    assert applied["status"] == "applied"
    registry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert registry["name"] == "李更正"
    roster = (
        await fed.get(
            "school", ZHEJIANG_SCHOOL, f"/api/v1/schools/{ZHEJIANG_SCHOOL}/students/{number}"
        )
    ).json()
    assert roster["name"] == "李更正"
