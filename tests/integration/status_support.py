"""Students and status changes for the cross-process status-change tests."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task, register, settled, student
from tests.integration.transfer_support import AUTO_APPROVE, COUNTY_OF
from tests.shared.messaging.harness import eventually

# LS 2(二)1: the hospital documents and the advice of three months' rest (Liangshan).
LS_ILLNESS = (
    "hospital_certificate",
    "payment_receipts",
    "admission_discharge_certificate",
    "cost_settlement",
    "rest_advice_3_months",
)
COUNTIES = {**COUNTY_OF, "5134010002": "513401", "4101050001": "410105"}


async def registered(
    fed: Federation,
    school: str,
    *,
    grade: int = 1,
    birth: date | None = None,
    extended: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A student registered at ``school`` (the county approves where the province does not
    approve automatically) with an issued student number."""
    body = student(school, grade=grade, birth=birth)
    body["extended"] = {**body["extended"], **(extended or {})}
    registration_id = await register(fed, school, body)
    if school[:2] not in AUTO_APPROVE:
        county = COUNTIES[school]
        task = await open_task(fed, "county", county, school, "registration_batch")
        assert (await decide(fed, "county", county, task["task_id"], "approve")).status_code == 200
    done = await settled(fed, school, registration_id, "approved")
    return {**body, "student_number": done["student_number"], "school": school}


def proof(kind: str) -> dict[str, str]:
    return {
        "kind": kind,
        "filename": f"{kind}.pdf",
        "content_base64": base64.b64encode(f"%PDF-1.4 {kind}".encode()).decode(),
    }


async def ask(
    fed: Federation,
    kid: dict[str, Any],
    change: str,
    *,
    proofs: tuple[str, ...] = (),
    on: date = date(2026, 9, 1),
    **fields: Any,
) -> str:
    """The school asks for ``change``; returns the change id."""
    school = kid["school"]
    response = await fed.post(
        "school",
        school,
        f"/api/v1/schools/{school}/status-changes",
        json={
            "student_number": kid["student_number"],
            "change": change,
            "effective_on": on.isoformat(),
            "reason": "监护人书面申请",
            "proofs": [proof(kind) for kind in proofs],
            **fields,
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["change_id"])


async def approve(fed: Federation, kid: dict[str, Any], decision: str = "approve") -> None:
    """The school's county officer decides the open status-change task."""
    school, county = kid["school"], COUNTIES[kid["school"]]
    task = await open_task(fed, "county", county, school, "status_change")
    assert task["kind"] == "status_change"
    reason = "材料不全" if decision == "reject" else None
    answer = await decide(fed, "county", county, task["task_id"], decision, reason)
    assert answer.status_code == 200, answer.text


async def outcome(fed: Federation, kid: dict[str, Any], change_id: str) -> dict[str, Any]:
    """Wait until the school hears the change's decision; return the school's record."""
    school = kid["school"]
    found: dict[str, Any] = {}

    async def decided() -> bool:
        response = await fed.get("school", school, f"/api/v1/status-changes/{change_id}")
        assert response.status_code == 200, response.text
        found.update(response.json())
        return found["status"] != "submitted"

    await eventually(decided, timeout=45, interval=0.2)
    return found


async def change(
    fed: Federation, kid: dict[str, Any], name: str, *, officer: bool = True, **fields: Any
) -> dict[str, Any]:
    """Ask, let the county officer approve (unless the province has it recorded only), and
    return the decision as the school sees it."""
    change_id = await ask(fed, kid, name, **fields)
    if officer:
        await approve(fed, kid)
    return await outcome(fed, kid, change_id)


async def roster(fed: Federation, kid: dict[str, Any]) -> dict[str, Any]:
    school = kid["school"]
    path = f"/api/v1/schools/{school}/students/{kid['student_number']}"
    response = await fed.get("school", school, path)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def registry(fed: Federation, kid: dict[str, Any]) -> dict[str, Any]:
    response = await fed.get("national", "CN", f"/api/v1/registry/{kid['student_number']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def archive_entries(
    fed: Federation, kid: dict[str, Any], change_id: str
) -> list[dict[str, Any]]:
    """The archive entries recording ``change_id``, once the province has them."""
    province, number = kid["school"][:2], kid["student_number"]
    found: list[dict[str, Any]] = []

    async def recorded() -> bool:
        path = f"/api/v1/provinces/{province}/archives/{number}"
        response = await fed.get("province", province, path)
        assert response.status_code == 200, response.text
        found[:] = [e for e in response.json()["entries"] if e.get("reference") == change_id]
        return bool(found)

    await eventually(recorded, timeout=45, interval=0.2)
    return found
