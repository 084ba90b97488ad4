"""Rights across the running federation (separate processes, real broker, real keys):

- a client system registered at national checks a student registered through the school,
  with its own credentials, for its declared purpose (N2025 art. 24);
- a school's roster export is decided on the county's desk, in a bulk decision, through the
  school instance that keeps its task (N2013 art. 25; decision 0011).
"""

from __future__ import annotations

import base64
import json

from shared.security.principal import Role
from tests.integration.conftest import Federation
from tests.integration.registration_support import register, settled, student

ZHEJIANG_SCHOOL, ZHEJIANG_COUNTY = "3301060001", "330106"  # registrations approved by rule
HENAN_SCHOOL, HENAN_COUNTY = "4101050001", "410105"


async def test_a_registered_client_system_checks_a_students_status(fed: Federation) -> None:
    body = student(ZHEJIANG_SCHOOL, grade=1)
    registration_id = await register(fed, ZHEJIANG_SCHOOL, body)
    number = (await settled(fed, ZHEJIANG_SCHOOL, registration_id, "approved"))["student_number"]

    client = {
        "client_id": "zj-health",
        "name": "浙江省学生健康管理系统",
        "purposes": [
            {"code": "school_health", "claims": ["enrolled", "county"], "basis": "学校卫生工作条例"}
        ],
    }
    registered = await fed.post(
        "national", "CN", "/api/v1/status-clients", json=client,
        headers=fed.auth("national:CN", Role.OPERATOR),
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    secret = registered.json()["secret"]
    url = fed.url("national", "CN", "/api/v1/status-checks")

    def check(subject: dict[str, str], **claims: object) -> dict[str, object]:
        return {"purpose": "school_health", "subject": subject, "claims": claims}

    by_number = await fed.http.post(
        url, json=check({"student_number": number}, enrolled=True, county=ZHEJIANG_COUNTY),
        auth=("zj-health", secret),
    )  # fmt: skip
    assert by_number.status_code == 200, by_number.text
    assert by_number.json()["answers"] == {"enrolled": True, "county": True}
    by_document = await fed.http.post(
        url, json=check({"id_number": body["id_number"]}, county="330102"),
        auth=("zj-health", secret),
    )  # fmt: skip
    assert by_document.json()["answers"] == {"county": False}
    beyond = await fed.http.post(
        url, json=check({"student_number": number}, grade=1), auth=("zj-health", secret)
    )
    assert (beyond.status_code, beyond.json()["code"]) == (403, "status_claim_beyond_purpose")
    officer = await fed.http.post(
        url, json=check({"student_number": number}, enrolled=True),
        headers=fed.auth("national:CN", Role.AUDITOR),
    )  # fmt: skip
    assert (officer.status_code, officer.json()["code"]) == (401, "client_credentials_invalid")


async def test_a_roster_export_is_decided_on_the_countys_desk_in_bulk(fed: Federation) -> None:
    registrar = fed.auth(f"school:{HENAN_SCHOOL}", Role.REGISTRAR)
    approver = fed.auth(f"county:{HENAN_COUNTY}", Role.APPROVER)
    asked = await fed.post(
        "school", HENAN_SCHOOL, "/api/v1/exports",
        json={"population": f"school:{HENAN_SCHOOL}", "fields": ["student_number", "grade"],
              "purpose": "核对营养餐名单"},
        headers=registrar,
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    export_id = asked.json()["export_id"]

    # the county's export approvals, kept where the data is, with the request's facts
    listed = await fed.get(
        "school", HENAN_SCHOOL, "/api/v1/approvals",
        params={"unit": f"county:{HENAN_COUNTY}", "status": "open"}, headers=approver,
    )  # fmt: skip
    assert listed.status_code == 200, listed.text
    [task] = [t for t in listed.json()["items"] if t["subject_id"] == export_id]
    assert task["export"]["purpose"] == "核对营养餐名单"
    assert task["export"]["requester_unit"] == f"school:{HENAN_SCHOOL}"

    decided = await fed.post(
        "school", HENAN_SCHOOL, "/api/v1/tasks/decisions",
        json={"decisions": [{"task_id": task["task_id"], "decision": "approve"}]},
        headers=approver,
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert [item["status"] for item in decided.json()["results"]] == [200]

    export = await fed.get(
        "school", HENAN_SCHOOL, f"/api/v1/exports/{export_id}", headers=registrar
    )
    assert export.json()["status"] == "approved"
    assert export.json()["decided_by"] == approver_name(approver)
    download = await fed.get(
        "school", HENAN_SCHOOL, f"/api/v1/exports/{export_id}/download", headers=registrar
    )
    assert download.status_code == 200
    assert download.content.decode("utf-8-sig").splitlines()[0] == "student_number,grade"


def approver_name(headers: dict[str, str]) -> str:
    """The username in a bearer token (its claims, unverified: the federation checked it)."""
    claims = headers["Authorization"].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(claims + "==").decode())["sub"])
