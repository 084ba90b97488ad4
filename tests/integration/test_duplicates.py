"""A duplicate admission resolved across the tiers as separate processes over the real broker
(LS 2(三)): the student registered at one school is registered again at the school they
attend, national refuses the duplicate, the real school uploads the attendance proof, both
counties approve, and the registration, both rosters and the archive follow."""

from __future__ import annotations

import base64
from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task, register, settled, student
from tests.shared.messaging.harness import eventually

OTHER, OTHER_COUNTY = "4101050001", "410105"  # registered here first
REAL, REAL_COUNTY = "4101020001", "410102"  # the student attends here


async def approved(
    fed: Federation, school: str, county: str, body: dict[str, Any]
) -> dict[str, Any]:
    registration_id = await register(fed, school, body)
    task = await open_task(fed, "county", county, school, "registration_batch")
    assert (await decide(fed, "county", county, task["task_id"], "approve")).status_code == 200
    return {"registration_id": registration_id}


async def test_a_duplicate_is_resolved_with_both_approvals(fed: Federation) -> None:
    body = student(OTHER, grade=2)
    first = await approved(fed, OTHER, OTHER_COUNTY, body)
    number = (await settled(fed, OTHER, first["registration_id"], "approved"))["student_number"]
    second = await approved(fed, REAL, REAL_COUNTY, body)
    refused = await settled(fed, REAL, second["registration_id"], "rejected")
    assert refused["rule"] == "duplicate_registration"

    proof = {
        "kind": "attendance_proof",
        "filename": "attendance.pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4 LS form 3").decode(),
    }
    no_proof = await fed.post(
        "school",
        REAL,
        f"/api/v1/schools/{REAL}/duplicate-resolutions",
        json={
            "registration_id": second["registration_id"],
            "student_number": number,
            "other_school": OTHER,
            "reason": "学生在本校实际就读",
            "proofs": [{**proof, "kind": "application_form"}],
        },
    )
    assert no_proof.status_code == 422, no_proof.text
    assert no_proof.json()["rule"] == "attendance_proof_required", no_proof.text
    asked = await fed.post(
        "school",
        REAL,
        f"/api/v1/schools/{REAL}/duplicate-resolutions",
        json={
            "registration_id": second["registration_id"],
            "student_number": number,
            "other_school": OTHER,
            "reason": "学生在本校实际就读",
            "proofs": [proof],
        },
    )
    assert asked.status_code == 202, asked.text
    resolution_id = asked.json()["resolution_id"]

    for county, school in ((REAL_COUNTY, REAL), (OTHER_COUNTY, OTHER)):
        task = await open_task(fed, "county", county, school, "duplicate_resolution")
        read = (await fed.get("county", county, f"/api/v1/tasks/{task['task_id']}")).json()
        assert read["duplicate"]["real_school"] == REAL
        [link] = read["duplicate"]["proofs"]
        headers = fed.headers("county", county, None)
        assert (await fed.http.get(link["url"], headers=headers)).content == b"%PDF-1.4 LS form 3"
        assert (await decide(fed, "county", county, task["task_id"], "approve")).status_code == 200

    async def resolved() -> bool:
        response = await fed.get(
            "school", REAL, f"/api/v1/schools/{REAL}/duplicate-resolutions/{resolution_id}"
        )
        return bool(response.json()["status"] == "resolved")

    await eventually(resolved, timeout=45, interval=0.2)
    entry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
    assert entry["school_code"] == REAL
    roster = await fed.get("school", REAL, f"/api/v1/schools/{REAL}/students/{number}")
    assert roster.status_code == 200 and roster.json()["status"] == "enrolled"
    stands = await fed.get("school", REAL, f"/api/v1/registrations/{second['registration_id']}")
    assert (stands.json()["status"], stands.json()["student_number"]) == ("approved", number)

    async def deleted_and_moved() -> bool:
        gone = await fed.get("school", OTHER, f"/api/v1/schools/{OTHER}/students/{number}")
        archive = await fed.get("province", "41", f"/api/v1/schools/{REAL}/archives/{number}")
        return gone.status_code == 404 and archive.status_code == 200

    await eventually(deleted_and_moved, timeout=30, interval=0.2)
