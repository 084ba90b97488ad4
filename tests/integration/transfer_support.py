"""Registered students and deciding parties for the cross-process transfer tests."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task, register, settled, student
from tests.shared.messaging.harness import eventually

COUNTY_OF = {
    "4101020001": "410102",
    "4101020003": "410102",
    "4101020008": "410102",  # closed by tests/integration/test_school_merger.py
    "3301020001": "330102",
    "3301060001": "330106",
    "5134010001": "513401",
    "5101040001": "510104",
}
AUTO_APPROVE = {"33"}  # config/provinces/33.toml
FINAL = {"completed", "rejected", "cancelled", "stopped", "refused"}


async def enrolled_student(fed: Federation, school: str) -> dict[str, Any]:
    """A first-grader registered at ``school`` with an issued student number."""
    body = student(school)
    registration_id = await register(fed, school, body)
    if school[:2] not in AUTO_APPROVE:
        county = COUNTY_OF[school]
        task = await open_task(fed, "county", county, school, "registration_batch")
        assert (await decide(fed, "county", county, task["task_id"], "approve")).status_code == 200
    done = await settled(fed, school, registration_id, "approved")
    return {**body, "student_number": done["student_number"], "school": school}


async def request_transfer(
    fed: Federation,
    kid: dict[str, Any],
    to_school: str,
    *,
    grade: int | None = None,
    proofs: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    response = await fed.post(
        "school",
        to_school,
        f"/api/v1/schools/{to_school}/transfers-in",
        json={
            "student_number": kid["student_number"],
            "from_school": kid["school"],
            "grade": grade or kid["grade"],
            "reason": "the family moved",
            "proofs": proofs or [application_form()],
        },
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def application_form(kind: str = "application_form") -> dict[str, str]:
    return {"kind": kind, "filename": f"{kind}.pdf", "content_base64": "JVBERi0xLjQ="}


async def transfer(fed: Federation, transfer_id: str) -> dict[str, Any]:
    response = await fed.get("national", "CN", f"/api/v1/transfers/{transfer_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def waiting_step(fed: Federation, transfer_id: str) -> dict[str, Any] | None:
    """The open step, once national has opened it; None when the transfer is over."""
    found: dict[str, Any] = {}

    async def known() -> bool:
        response = await fed.get("national", "CN", f"/api/v1/transfers/{transfer_id}")
        if response.status_code == 404:  # the request is still on its way to national
            return False
        found.update(response.json())
        return found["state"] in FINAL or found["waiting_for"] is not None

    await eventually(known, timeout=45, interval=0.1)
    return None if found["state"] in FINAL else dict(found["waiting_for"])


async def party_task(
    fed: Federation, unit: str, transfer_id: str, kind: str = "transfer_step"
) -> dict[str, Any]:
    """The open task of ``transfer_id`` in the task list of ``unit`` (e.g. ``county:330102``)."""
    tier, code = unit.split(":")
    path = {
        "school": f"/api/v1/schools/{code}/tasks",
        "county": f"/api/v1/counties/{code}/tasks",
        "province": f"/api/v1/provinces/{code}/tasks",
    }[tier]
    params: dict[str, Any] = {"status": "open", "limit": 200}
    if tier != "school":
        params["kind"] = kind
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        page = await fed.get(tier, code, path, params=params)
        assert page.status_code == 200, page.text
        found[:] = [t for t in page.json()["items"] if str(t.get("transfer_id")) == transfer_id]
        return bool(found)

    await eventually(listed, timeout=45, interval=0.1)
    return found[0]


async def decide_task(
    fed: Federation, unit: str, task_id: str, decision: str, reason: str | None = None
) -> dict[str, Any]:
    tier, code = unit.split(":")
    body: dict[str, Any] = {"decision": decision}
    if reason:
        body["reason"] = reason
    response = await fed.post(tier, code, f"/api/v1/tasks/{task_id}/decision", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def drive(
    fed: Federation, transfer_id: str, *, reject_role: str | None = None
) -> dict[str, Any]:
    """Decide every step as its party would (rejecting at ``reject_role``) until the end.

    A province's own step (e.g. Henan's discipline check) decides itself: it is waited for.
    """
    while (step := await waiting_step(fed, transfer_id)) is not None:
        unit = step["party_unit"]
        automatic = unit.startswith("province:") and step["role"] == "sending_province"
        if not automatic:
            task = await party_task(fed, unit, transfer_id)
            if step["role"] == reject_role:
                await decide_task(fed, unit, task["task_id"], "reject", "材料不全")
            else:
                await decide_task(fed, unit, task["task_id"], "approve")
        await eventually(lambda s=step: _moved_on(fed, transfer_id, s), timeout=45, interval=0.1)
    return await transfer(fed, transfer_id)


async def _moved_on(fed: Federation, transfer_id: str, step: dict[str, Any]) -> bool:
    now = await transfer(fed, transfer_id)
    return now["state"] in FINAL or now["waiting_for"]["step_id"] != step["step_id"]


async def roster_status(fed: Federation, school: str, number: str) -> str | None:
    """The student's status on the school's live roster; ``transferred_out`` for one who
    left by a transfer (decision 0043: off the roster, 404 ``student_left_school``, listed in
    the school's history list as a transfer)."""
    response = await fed.get("school", school, f"/api/v1/schools/{school}/students/{number}")
    if response.status_code != 404:
        return str(response.json()["status"])
    if response.json().get("rule") != "student_left_school":
        return None
    history = await fed.get("school", school, f"/api/v1/schools/{school}/departures")
    kinds = {d["kind"] for d in history.json()["items"] if d["student_number"] == number}
    return "transferred_out" if "transfer" in kinds else "left"
