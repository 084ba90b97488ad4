"""The person behind every decision (decision 0043), across processes over the real broker:
the county officer who approves is named in national's registry change log and in the
province's archive; the system and its rule where a province rule decided; and a key-field
change of the birth date re-checked for duplicates nationally."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import (
    open_task,
    proof,
    register,
    settled,
    student,
)
from tests.shared.messaging.harness import eventually

HENAN_SCHOOL, HENAN_COUNTY = "4101020001", "410102"
ZHEJIANG_SCHOOL, ZHEJIANG_COUNTY = "3301020001", "330102"
_rng = random.Random()


async def decide_as(fed: Federation, county: str, task_id: str, username: str) -> None:
    """Approve a county task as the officer ``username`` (all roles of the county)."""
    headers = fed.minter.headers(f"county:{county}", username=username)
    response = await fed.post(
        "county",
        county,
        f"/api/v1/tasks/{task_id}/decision",
        json={"decision": "approve"},
        headers=headers,
    )
    assert response.status_code == 200, response.text


async def changes_at_national(fed: Federation, number: str) -> list[dict[str, Any]]:
    response = await fed.get("national", "CN", f"/api/v1/registry/{number}/changes")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def archive_entry(fed: Federation, province: str, number: str, kind: str) -> dict[str, Any]:
    """The archive's entry of ``kind``, once the province has it."""
    found: list[dict[str, Any]] = []

    async def recorded() -> bool:
        r = await fed.get("province", province, f"/api/v1/provinces/{province}/archives/{number}")
        if r.status_code != 200:
            return False
        found[:] = [e for e in r.json()["entries"] if e["kind"] == kind]
        return bool(found)

    await eventually(recorded, timeout=45, interval=0.2)
    return found[-1]


async def key_field_change(
    fed: Federation, school: str, county: str, number: str, changes: dict[str, str], officer: str
) -> dict[str, Any]:
    """Apply for a key-field change, approve it as ``officer``, wait for the outcome."""
    response = await fed.post(
        "school",
        school,
        f"/api/v1/schools/{school}/students/{number}/key-field-changes",
        json={"changes": changes, "reason": "户籍更正", "proofs": [proof()]},
    )
    assert response.status_code == 202, response.text
    change_id = str(response.json()["change_id"])
    tasks = await open_task(fed, "county", county, school, "key_field_change")
    await decide_as(fed, county, tasks["task_id"], officer)

    async def decided() -> bool:
        r = await fed.get("school", school, f"/api/v1/key-field-changes/{change_id}")
        return r.json()["status"] != "submitted"

    await eventually(decided, timeout=45, interval=0.2)
    r = await fed.get("school", school, f"/api/v1/key-field-changes/{change_id}")
    return dict(r.json())


async def test_the_approving_officer_is_named_at_national_and_in_the_archive(
    fed: Federation,
) -> None:
    body = student(HENAN_SCHOOL)
    registration_id = await register(fed, HENAN_SCHOOL, body)
    task = await open_task(fed, "county", HENAN_COUNTY, HENAN_SCHOOL, "registration_batch")
    await decide_as(fed, HENAN_COUNTY, task["task_id"], "wang.shenhe")
    number = (await settled(fed, HENAN_SCHOOL, registration_id, "approved"))["student_number"]

    registered = [c for c in await changes_at_national(fed, number) if c["kind"] == "registered"]
    assert [(c["decided_by"], c["decided_unit"], c["decided_rule"]) for c in registered] == [
        ("wang.shenhe", f"county:{HENAN_COUNTY}", None)
    ]
    entry = await archive_entry(fed, "41", number, "registered")
    assert (entry["data"]["decided_by"], entry["data"]["decided_unit"]) == (
        "wang.shenhe",
        f"county:{HENAN_COUNTY}",
    )

    # A key-field change approved by another officer: the log names that officer.
    applied = await key_field_change(
        fed, HENAN_SCHOOL, HENAN_COUNTY, number, {"name": "王更正"}, "li.guanjian"
    )
    assert applied["status"] == "applied", applied
    changed = [c for c in await changes_at_national(fed, number) if c["kind"] != "registered"]
    assert [(c["kind"], c["decided_by"], c["decided_unit"]) for c in changed] == [
        ("key_field_change", "li.guanjian", f"county:{HENAN_COUNTY}")
    ]
    entry = await archive_entry(fed, "41", number, "key_field_change")
    assert (entry["data"]["decided_by"], entry["data"]["decided_unit"]) == (
        "li.guanjian",
        f"county:{HENAN_COUNTY}",
    )
    assert "national:CN" not in str(entry["data"])
    # its proof is linked in section 2 where the school keeps it (N2013 arts. 7(二), 13)
    linked = await archive_entry(fed, "41", number, "key_field_change_proofs")
    [link] = linked["data"]["proofs"]
    kept = await fed.get("school", HENAN_SCHOOL, "/api/v1/" + link["url"].split("/api/v1/")[1])
    assert (kept.status_code, kept.content) == (200, b"%PDF-1.4 hukou page")


async def test_an_automatic_approval_names_the_system_and_the_rule(fed: Federation) -> None:
    registration_id = await register(fed, ZHEJIANG_SCHOOL, student(ZHEJIANG_SCHOOL))
    number = (await settled(fed, ZHEJIANG_SCHOOL, registration_id, "approved"))["student_number"]
    [registered] = await changes_at_national(fed, number)
    assert (registered["decided_by"], registered["decided_rule"]) == (
        "system",
        "registration.auto_approve",
    )
    assert registered["decided_unit"] == f"county:{ZHEJIANG_COUNTY}"
    entry = await archive_entry(fed, "33", number, "registered")
    assert (entry["data"]["decided_by"], entry["data"]["decided_rule"]) == (
        "system",
        "registration.auto_approve",
    )


async def test_a_new_birth_date_is_deduplicated_again_nationally(fed: Federation) -> None:
    """Name, gender and birth date are the identity key: a birth date making the student look
    like another registered one is refused by national's re-check; a harmless one applies."""
    taken = student("3301060001")
    await settled(fed, "3301060001", await register(fed, "3301060001", taken), "approved")
    # A passport holder (no resident ID ties the birth date) with the same name and gender,
    # born on another day: registered without a match.
    mine = student(ZHEJIANG_SCHOOL, name=taken["name"], birth=date(2019, 12, 31))
    if mine["birth_date"] == taken["birth_date"]:
        mine["birth_date"] = "2019-12-30"
    mine |= {"id_type": "passport", "id_number": f"E{_rng.randrange(10**8):08d}"}
    number = (
        await settled(fed, ZHEJIANG_SCHOOL, await register(fed, ZHEJIANG_SCHOOL, mine), "approved")
    )["student_number"]

    refused = await key_field_change(
        fed,
        ZHEJIANG_SCHOOL,
        ZHEJIANG_COUNTY,
        number,
        {"birth_date": taken["birth_date"]},
        "zhao.shenhe",
    )
    assert refused["status"] == "rejected"
    assert refused["rule"] == "suspect_no_resident_id_same_name_gender_birth", refused
    registry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert registry["birth_date"] == mine["birth_date"]

    applied = await key_field_change(
        fed, ZHEJIANG_SCHOOL, ZHEJIANG_COUNTY, number, {"birth_date": "2019-11-11"}, "zhao.shenhe"
    )
    assert applied["status"] == "applied", applied
    registry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert registry["birth_date"] == "2019-11-11"
    roster = await fed.get(
        "school", ZHEJIANG_SCHOOL, f"/api/v1/schools/{ZHEJIANG_SCHOOL}/students/{number}"
    )
    assert roster.json()["birth_date"] == "2019-11-11"
    entry = await archive_entry(fed, "33", number, "key_field_change")
    assert entry["data"]["after"]["birth_date"] == "2019-11-11"
    assert entry["data"]["decided_by"] == "zhao.shenhe"
