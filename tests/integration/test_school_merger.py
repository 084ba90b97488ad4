"""A school merged into another of its county (N2013 art. 9; decision 0043), across processes
over the real broker: the county's operator posts the merger, national moves the
registrations set-based and logs them under the operator, the province re-keys the archives,
the receiving school enrols the students, the closed school's roster lets them go to its
history list and it refuses new registrations (``school_closed``). A student whose transfer
is in flight stays and is reported refused."""

from __future__ import annotations

from typing import Any

from shared.security.principal import Role
from tests.integration.conftest import MERGED_SCHOOL, Federation
from tests.integration.registration_support import student
from tests.integration.transfer_support import enrolled_student, request_transfer, waiting_step
from tests.shared.messaging.harness import eventually

CLOSING = MERGED_SCHOOL["code"]
RECEIVING, COUNTY, ELSEWHERE = "4101020003", "410102", "4101020001"
OPERATOR = "zhao.yunwei"


async def merger_report(fed: Federation, merger_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def applied() -> bool:
        r = await fed.get("county", COUNTY, f"/api/v1/counties/{COUNTY}/school-mergers/{merger_id}")
        assert r.status_code == 200, r.text
        found.update(r.json())
        return bool(found["status"] == "applied")

    await eventually(applied, timeout=60, interval=0.2)
    return found


async def numbers_listed(fed: Federation, school: str, path: str, limit: int = 200) -> set[str]:
    r = await fed.get("school", school, path, params={"limit": limit})
    assert r.status_code == 200, r.text
    return {item["student_number"] for item in r.json()["items"]}


async def test_a_school_merged_into_another_of_its_county(fed: Federation) -> None:
    kids = [await enrolled_student(fed, CLOSING) for _ in range(3)]
    held = kids[0]
    moving = [k["student_number"] for k in kids[1:]]
    # a transfer of one student is in flight: national holds the registration
    started = await request_transfer(fed, held, ELSEWHERE)
    assert await waiting_step(fed, str(started["transfer_id"])) is not None

    # only the county's operator merges; a registrar may not
    body = {
        "from_school": CLOSING,
        "to_school": RECEIVING,
        "kind": "merged",
        "closed_on": "2026-09-07",
    }
    path = f"/api/v1/counties/{COUNTY}/school-mergers"
    refused = await fed.post(
        "county", COUNTY, path, json=body, headers=fed.auth(f"county:{COUNTY}", Role.APPROVER)
    )
    assert refused.status_code == 403, refused.text
    headers = fed.minter.headers(f"county:{COUNTY}", Role.OPERATOR, username=OPERATOR)
    response = await fed.post("county", COUNTY, path, json=body, headers=headers)
    assert response.status_code == 202, response.text
    merger_id = str(response.json()["merger_id"])

    report = await merger_report(fed, merger_id)
    assert (report["moved"], report["refused"], report["decided_by"]) == (2, 1, OPERATOR)
    assert report["refusals"] == [
        {
            "student_number": held["student_number"],
            "rule": "school_merger_held",
            "article": "N2013 art. 9",
        }
    ]

    for number in moving:
        entry = await fed.get("national", "CN", f"/api/v1/registry/{number}")
        assert entry.status_code == 200, entry.text
        assert entry.json()["school_code"] == RECEIVING
        changes = await fed.get("national", "CN", f"/api/v1/registry/{number}/changes")
        merged = [c for c in changes.json()["items"] if c["kind"] == "school_merged"]
        assert [(c["decided_by"], c["decided_unit"], c["subject_id"]) for c in merged] == [
            (OPERATOR, f"county:{COUNTY}", merger_id)
        ]
    stayed = await fed.get("national", "CN", f"/api/v1/registry/{held['student_number']}")
    assert stayed.json()["school_code"] == CLOSING

    # the archives are at the receiving school, with a section-1 entry naming the merger
    async def archives_moved() -> bool:
        for number in moving:
            r = await fed.get("province", "41", f"/api/v1/schools/{RECEIVING}/archives/{number}")
            if r.status_code != 200:
                return False
            kinds = [e["kind"] for e in r.json()["entries"]]
            if "registered" not in kinds or "school_merged" not in kinds:
                return False
        return True

    await eventually(archives_moved, timeout=45, interval=0.2)
    gone = await fed.get("province", "41", f"/api/v1/schools/{CLOSING}/archives/{moving[0]}")
    assert gone.status_code == 404, gone.text

    # the receiving roster lists them; the closed school's lists only the held student, its
    # history list the others
    async def rosters_moved() -> bool:
        received = await numbers_listed(
            fed, RECEIVING, f"/api/v1/schools/{RECEIVING}/students", limit=1000
        )
        departed = await numbers_listed(fed, CLOSING, f"/api/v1/schools/{CLOSING}/departures")
        return set(moving) <= received and set(moving) <= departed

    await eventually(rosters_moved, timeout=45, interval=0.2)
    left = await numbers_listed(fed, CLOSING, f"/api/v1/schools/{CLOSING}/students")
    assert held["student_number"] in left and not set(moving) & left
    page = await fed.get("school", CLOSING, f"/api/v1/schools/{CLOSING}/departures")
    kinds = {d["student_number"]: d["kind"] for d in page.json()["items"]}
    assert {kinds[n] for n in moving} == {"school_merged"}

    # the closed school takes no more registrations (N2013 art. 9)
    closed = await fed.post(
        "school", CLOSING, f"/api/v1/schools/{CLOSING}/students", json=student(CLOSING)
    )
    assert closed.status_code == 422, closed.text
    assert closed.json()["code"] == "school_closed"
    assert closed.json()["article"] == "N2013 art. 9"
    # and a second merger of it is refused at the county
    again = await fed.post("county", COUNTY, path, json=body, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "school_closed", again.text
