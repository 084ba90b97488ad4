"""Proofs by ground (HA art. 13(二)-(三)) at a Henan school, through its HTTP API on SQLite
and PostgreSQL: what a suspension for illness or for personal leave must carry, the recovery
certificate a resumption after illness needs, the checklist the console reads, and the list
of suspensions that are over."""

from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Any

from shared.contracts.status import StatusChangeDecided, StatusChangeFacts
from tests.services.school.conftest import PRIMARY, Service
from tests.services.school.test_key_field_change_service import enrolled
from tests.services.school.test_status_changes import PATH, deliver

RULES = f"/api/v1/schools/{PRIMARY.code}/status-change-rules"
EXPIRED = f"/api/v1/schools/{PRIMARY.code}/status-changes/expired-suspensions"


def proof(kind: str) -> dict[str, str]:
    return {
        "kind": kind,
        "filename": f"{kind}.pdf",
        "content_base64": base64.b64encode(b"%PDF").decode(),
    }


def change(
    number: str, kind: str, ground: str | None, *proofs: str, **fields: Any
) -> dict[str, Any]:
    return {
        "student_number": number,
        "change": kind,
        "effective_on": "2025-02-20",
        "reason": "监护人书面申请",
        "ground": ground,
        "proofs": [proof(k) for k in proofs],
        **fields,
    }


async def suspended(service: Service, number: str, ground: str, until: date) -> None:
    """Suspend ``number`` on ``ground`` (with the proof it needs) and apply national's answer."""
    kinds = {"illness": "hospital_certificate", "personal": "leave_proof"}[ground]
    sent = await service.client.post(PATH, json=change(number, "suspend", ground, kinds))
    assert sent.status_code == 202, sent.text
    await deliver(
        service,
        StatusChangeDecided(
            change_id=uuid.UUID(sent.json()["change_id"]),
            school_code=PRIMARY.code,
            student_number=number,
            facts=StatusChangeFacts(
                change="suspend", effective_on=date(2024, 2, 20), ground=ground
            ),
            outcome="applied",
            decided_by="national:CN",
            from_status="enrolled",
            to_status="suspended",
            from_grade=1,
            to_grade=1,
            suspended_until=until,
        ),
    )


async def test_personal_leave_needs_a_relevant_proof_not_a_hospital_certificate(
    service: Service,
) -> None:
    number = await enrolled(service.runtime.sessions)
    wrong = await service.client.post(
        PATH, json=change(number, "suspend", "personal", "hospital_certificate")
    )
    assert wrong.status_code == 422
    refusal = wrong.json()
    assert (refusal["rule"], refusal["article"]) == ("proof_required", "HA art. 13(二)")
    assert "leave_proof" in refusal["message"]
    illness = await service.client.post(
        PATH, json=change(number, "suspend", "illness", "leave_proof")
    )
    assert (illness.json()["rule"], illness.json()["article"]) == (
        "proof_required",
        "HA art. 13(二)",
    )
    assert "hospital_certificate" in illness.json()["message"]
    right = await service.client.post(
        PATH, json=change(number, "suspend", "personal", "leave_proof")
    )
    assert right.status_code == 202, right.text


async def test_resuming_after_illness_needs_the_recovery_certificate(service: Service) -> None:
    sick = await enrolled(service.runtime.sessions)
    await suspended(service, sick, "illness", date(2026, 2, 20))
    # the ground is the suspension's, found by the school: the form need not repeat it
    bare = await service.client.post(PATH, json=change(sick, "resume", None, target_grade=1))
    assert bare.status_code == 422
    assert (bare.json()["rule"], bare.json()["article"]) == ("proof_required", "HA art. 13(三)")
    assert "recovery_certificate" in bare.json()["message"]
    cured = change(sick, "resume", None, "recovery_certificate", target_grade=1)
    assert (await service.client.post(PATH, json=cured)).status_code == 202

    away = await enrolled(service.runtime.sessions, name="李娜")
    await suspended(service, away, "personal", date(2026, 2, 20))
    back = await service.client.post(PATH, json=change(away, "resume", None, target_grade=1))
    assert back.status_code == 202, back.text


async def test_the_rules_name_each_ground_s_proofs_and_article(service: Service) -> None:
    read = await service.client.get(RULES)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["province"] == "41"
    kinds = {k["change"]: k for k in body["kinds"]}
    by_ground = {
        (i["change"], i["ground"]): (i["kinds"], i["article"])
        for k in body["kinds"]
        for i in k["proofs_by_ground"]
    }
    assert by_ground[("suspend", "illness")] == (["hospital_certificate"], "HA art. 13(二)")
    assert by_ground[("suspend", "personal")] == (["leave_proof"], "HA art. 13(二)")
    assert by_ground[("resume", "illness")] == (["recovery_certificate"], "HA art. 13(三)")
    assert kinds["suspend"]["required_proofs"] == []  # every ground has its own
    assert kinds["decease"]["required_proofs"] == ["death_certificate"]
    other = await service.client.get("/api/v1/schools/4101990001/status-change-rules")
    assert other.status_code == 404


async def test_suspensions_over_are_listed_to_the_school(service: Service) -> None:
    over = await enrolled(service.runtime.sessions)
    running = await enrolled(service.runtime.sessions, name="李娜")
    await suspended(service, over, "illness", date(2025, 2, 28))  # today is 2025-03-01
    await suspended(service, running, "personal", date(2025, 3, 1))  # ends today: not over
    listed = (await service.client.get(EXPIRED)).json()
    assert listed["as_of"] == "2025-03-01"
    assert [(i["student_number"], i["suspended_until"]) for i in listed["items"]] == [
        (over, "2025-02-28")
    ]
    assert listed["total"] == 1
    # resumed: no longer suspended, no longer listed
    resume = change(over, "resume", None, "recovery_certificate", target_grade=1)
    sent = await service.client.post(PATH, json=resume)
    await deliver(
        service,
        StatusChangeDecided(
            change_id=uuid.UUID(sent.json()["change_id"]),
            school_code=PRIMARY.code,
            student_number=over,
            facts=StatusChangeFacts(change="resume", effective_on=date(2025, 3, 1), target_grade=1),
            outcome="applied",
            decided_by="national:CN",
            from_status="suspended",
            to_status="enrolled",
            from_grade=1,
            to_grade=1,
        ),
    )
    assert (await service.client.get(EXPIRED)).json()["items"] == []
