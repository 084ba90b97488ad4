"""Transfers across the tiers as separate processes over the real broker (issue 4)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conftest import Federation
from tests.integration.transfer_support import (
    application_form,
    decide_task,
    drive,
    enrolled_student,
    party_task,
    request_transfer,
    roster_status,
    transfer,
    waiting_step,
)
from tests.shared.messaging.harness import eventually


async def registry_school(fed: Federation, number: str) -> str:
    return str(
        (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()["school_code"]
    )


async def transfer_in_status(fed: Federation, school: str, transfer_id: str) -> str:
    response = await fed.get(
        "school", school, f"/api/v1/schools/{school}/transfers-in/{transfer_id}"
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def test_in_county_transfer_in_henan(fed: Federation) -> None:
    kid = await enrolled_student(fed, "4101020001")
    number = kid["student_number"]
    started = await request_transfer(fed, kid, "4101020003")

    done = await drive(fed, str(started["transfer_id"]))

    assert done["state"] == "completed"
    # Henan's order (HA art. 11(二)): its discipline check, then the receiving side first
    roles = [s["role"] for s in done["steps"]]
    assert roles[0] == "sending_province" and roles.index("receiving_authority") < roles.index(
        "sending_school"
    )
    assert all(s["due_on"] for s in done["steps"])
    assert await registry_school(fed, number) == "4101020003"

    async def moved() -> bool:
        return (await roster_status(fed, "4101020003", number)) == "enrolled" and (
            await roster_status(fed, "4101020001", number)
        ) == "transferred_out"

    await eventually(moved, timeout=30, interval=0.2)
    live = await fed.get("province", "41", f"/api/v1/schools/4101020003/archives/{number}")
    assert live.status_code == 200
    backup = await fed.get("province", "41", f"/api/v1/schools/4101020001/archive-backups/{number}")
    assert backup.status_code == 200

    # The sending school, with its own token, has lost the live data and kept its backup.
    sender = fed.headers("school", "4101020001", None)
    gone = await fed.get(
        "school", "4101020001", f"/api/v1/schools/4101020001/students/{number}", headers=sender
    )
    assert (gone.status_code, gone.json()["rule"]) == (404, "student_left_school")
    assert kid["name"] not in gone.text and "4101020003" in gone.json()["message"]
    history = await fed.get("school", "4101020001", "/api/v1/schools/4101020001/departures")
    [left] = [d for d in history.json()["items"] if d["student_number"] == number]
    assert (left["kind"], left["to_school"], left["subject_id"]) == (
        "transfer",
        "4101020003",
        str(started["transfer_id"]),
    )
    own_path = await fed.get(
        "province", "41", f"/api/v1/schools/4101020001/archives/{number}", headers=sender
    )
    assert (own_path.status_code, own_path.json()["rule"]) == (404, "archive_transferred")
    new_school = await fed.get(
        "province", "41", f"/api/v1/schools/4101020003/archives/{number}", headers=sender
    )
    assert (new_school.status_code, new_school.json()["rule"]) == (404, "unit_not_visible")
    province = await fed.get(
        "province", "41", f"/api/v1/provinces/41/archives/{number}", headers=sender
    )
    assert province.status_code == 404
    registry = await fed.get("national", "CN", f"/api/v1/registry/{number}", headers=sender)
    assert registry.status_code == 404
    kept = await fed.get(
        "province", "41", f"/api/v1/schools/4101020001/archive-backups/{number}", headers=sender
    )
    assert kept.status_code == 200 and kept.json()["to_school"] == "4101020003"
    receiver = fed.headers("school", "4101020003", None)
    assert (
        await fed.get("national", "CN", f"/api/v1/registry/{number}", headers=receiver)
    ).status_code == 200
    assert (
        await fed.get(
            "province",
            "41",
            f"/api/v1/schools/4101020001/archive-backups/{number}",
            headers=receiver,
        )
    ).status_code == 404  # the backup is the sending school's alone


async def test_cross_county_transfer_in_zhejiang(fed: Federation) -> None:
    kid = await enrolled_student(fed, "3301020001")
    started = await request_transfer(fed, kid, "3301060001")
    done = await drive(fed, str(started["transfer_id"]))
    assert done["state"] == "completed"
    assert [s["role"] for s in done["steps"]] == [
        "sending_school",
        "sending_authority",
        "receiving_authority",
    ]
    assert [s["party_unit"] for s in done["steps"]] == [
        "school:3301020001",
        "county:330102",
        "county:330106",
    ]
    assert await registry_school(fed, kid["student_number"]) == "3301060001"


async def test_henan_to_zhejiang_moves_the_archive_and_keeps_a_backup(fed: Federation) -> None:
    kid = await enrolled_student(fed, "4101020001")
    number = kid["student_number"]
    started = await request_transfer(fed, kid, "3301020001")
    done = await drive(fed, str(started["transfer_id"]))

    assert done["state"] == "completed" and done["archive_due_on"] is not None
    assert await registry_school(fed, number) == "3301020001"

    async def archive_arrived() -> bool:
        r = await fed.get("province", "33", f"/api/v1/schools/3301020001/archives/{number}")
        return r.status_code == 200

    await eventually(archive_arrived, timeout=30, interval=0.2)
    arrived = (
        await fed.get("province", "33", f"/api/v1/schools/3301020001/archives/{number}")
    ).json()
    assert arrived["extended"]["guardians"][0]["relation"] == "父亲"  # the whole archive came
    # The sending school keeps a read-only backup and loses the live archive.
    backup = await fed.get("province", "41", f"/api/v1/schools/4101020001/archive-backups/{number}")
    assert backup.status_code == 200
    live = await fed.get("province", "41", f"/api/v1/schools/4101020001/archives/{number}")
    assert live.status_code == 404

    async def handed_over() -> bool:
        r = await fed.get(
            "province", "41", "/api/v1/provinces/41/archive-handovers", params={"state": "received"}
        )
        return any(h["student_number"] == number for h in r.json()["items"])

    await eventually(handed_over, timeout=30, interval=0.2)


@pytest.mark.parametrize("role", ["sending_school", "sending_authority", "receiving_authority"])
async def test_a_rejection_at_any_party_leaves_everything_as_it_was(
    fed: Federation, role: str
) -> None:
    kid = await enrolled_student(fed, "3301020001")
    started = await request_transfer(fed, kid, "3301060001")
    transfer_id = str(started["transfer_id"])

    done = await drive(fed, transfer_id, reject_role=role)

    assert done["state"] == "rejected" and "材料不全" in done["closing_reason"]
    assert await registry_school(fed, kid["student_number"]) == "3301020001"
    assert await roster_status(fed, "3301020001", kid["student_number"]) == "enrolled"

    async def told() -> bool:
        return await transfer_in_status(fed, "3301060001", transfer_id) == "rejected"

    await eventually(told, timeout=30, interval=0.2)


async def test_a_province_rule_refuses_with_its_reason(fed: Federation) -> None:
    kid = await enrolled_student(fed, "3301020001")
    started = await request_transfer(fed, kid, "3301060001", grade=2)  # not the current grade

    await waiting_step(fed, str(started["transfer_id"]))
    done = await transfer(fed, str(started["transfer_id"]))
    assert done["state"] == "refused" and done["closing_rule"] == "grade_change"
    assert "ZJ art. 13" in done["closing_reason"]


async def test_missing_required_proof_for_a_cross_province_transfer_into_henan(
    fed: Federation,
) -> None:
    kid = await enrolled_student(fed, "3301020001")
    response = await fed.post(
        "school",
        "4101020001",
        "/api/v1/schools/4101020001/transfers-in",
        json={
            "student_number": kid["student_number"],
            "from_school": "3301020001",
            "grade": 1,
            "reason": "moved",
            "proofs": [application_form()],
        },
    )
    assert response.status_code == 422 and response.json()["rule"] == "missing_required_proof"
    accepted = await request_transfer(
        fed, kid, "4101020001", proofs=[application_form("origin_registration_proof")]
    )
    assert (await drive(fed, str(accepted["transfer_id"])))["state"] == "completed"


async def test_an_overdue_step_is_escalated_and_decided_by_the_superior(fed: Federation) -> None:
    kid = await enrolled_student(fed, "3301020001")
    started = await request_transfer(fed, kid, "3301060001")
    transfer_id = str(started["transfer_id"])
    step = await waiting_step(fed, transfer_id)
    assert step is not None and step["role"] == "sending_school"
    school_task = await party_task(fed, "school:3301020001", transfer_id)

    # Time passes: an operator (or the periodic sweep) runs the deadline sweep past the due date.
    sweep = await fed.post(
        "national", "CN", "/api/v1/operations/deadline-sweep", json={"as_of": "2026-10-30"}
    )
    assert sweep.status_code == 200 and sweep.json()["overdue"] >= 1
    intervention = await party_task(fed, "county:330102", transfer_id, kind="transfer_intervention")
    assert intervention["school_code"] in ("3301020001", "3301060001")
    detail = await fed.get("county", "330102", f"/api/v1/tasks/{intervention['task_id']}")
    assert detail.json()["transfer"]["late_party"] == "school:3301020001"
    await decide_task(fed, "county:330102", intervention["task_id"], "approve")

    async def intervened() -> bool:
        return (await transfer(fed, transfer_id))["steps"][0]["state"] == "approved"

    await eventually(intervened, timeout=30, interval=0.1)
    done = await drive(fed, transfer_id)
    assert done["state"] == "completed"
    first = done["steps"][0]
    assert (first["intervention"], first["decided_unit"]) == (True, "county:330102")

    async def school_task_void() -> bool:
        page = await fed.get(
            "school", "3301020001", "/api/v1/schools/3301020001/tasks", params={"limit": 200}
        )
        [task] = [t for t in page.json()["items"] if t["task_id"] == school_task["task_id"]]
        return task["status"] == "void"

    await eventually(school_task_void, timeout=30, interval=0.2)


async def test_two_concurrent_transfers_of_one_student_only_one_proceeds(fed: Federation) -> None:
    kid = await enrolled_student(fed, "3301020001")
    first, second = await asyncio.gather(
        request_transfer(fed, kid, "3301060001"),
        request_transfer(
            fed, kid, "4101020003", proofs=[application_form("origin_registration_proof")]
        ),
    )
    states = {}
    for started in (first, second):
        transfer_id = str(started["transfer_id"])
        await waiting_step(fed, transfer_id)
        states[transfer_id] = await transfer(fed, transfer_id)
    outcomes = sorted(t["state"] for t in states.values())
    assert outcomes == ["in_progress", "refused"]
    [refused] = [t for t in states.values() if t["state"] == "refused"]
    assert refused["closing_rule"] == "transfer_in_progress"


async def test_cancellation_by_the_receiving_school_leaves_everything_as_it_was(
    fed: Federation,
) -> None:
    kid = await enrolled_student(fed, "3301020001")
    started = await request_transfer(fed, kid, "3301060001")
    transfer_id = str(started["transfer_id"])
    await party_task(fed, "school:3301020001", transfer_id)
    cancel = await fed.post(
        "school",
        "3301060001",
        f"/api/v1/transfers/{transfer_id}/cancel",
        json={"reason": "the family stays"},
    )
    assert cancel.status_code in (200, 202), cancel.text

    async def cancelled() -> bool:  # not drive(): it would race the cancellation to the task
        return (await transfer(fed, transfer_id))["state"] == "cancelled"

    await eventually(cancelled, timeout=30, interval=0.2)
    assert await registry_school(fed, kid["student_number"]) == "3301020001"
