"""Status changes at the school, through its HTTP API on SQLite and PostgreSQL: what it checks
before sending, the proofs it keeps and serves, the message to its authority, the roster
after the decision."""

from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Any

import pytest

from services.school.entrypoints import messages
from shared.contracts.status import StatusChangeDecided, StatusChangeFacts
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.envelope import build_envelope
from shared.messaging.handlers import HandlerContext
from shared.messaging.testing import InProcessDelivery
from tests.services.school.conftest import PRIMARY, Service, school_ref, staged
from tests.services.school.test_key_field_change_service import enrolled

CERTIFICATE = b"%PDF-1.4 hospital certificate"
PATH = f"/api/v1/schools/{PRIMARY.code}/status-changes"


def body(number: str, change: str = "suspend", **fields: Any) -> dict[str, Any]:
    proof = {
        "kind": "hospital_certificate",
        "filename": "诊断证明.pdf",
        "content_base64": base64.b64encode(CERTIFICATE).decode(),
    }
    return {
        "student_number": number,
        "change": change,
        "effective_on": "2025-02-20",
        "reason": "因病需停课治疗",
        "ground": "illness",
        "proofs": [proof],
        **fields,
    }


def decision(change_id: str, number: str, outcome: str = "applied", **fields: Any) -> Any:
    return StatusChangeDecided(
        change_id=uuid.UUID(change_id),
        school_code=PRIMARY.code,
        student_number=number,
        facts=StatusChangeFacts(change="suspend", effective_on=date(2025, 2, 20)),
        outcome=outcome,  # type: ignore[arg-type]
        decided_by="national:CN",
        proofs=(ProofRef(index=0, kind="hospital_certificate"),),
        **fields,
    )


async def deliver(service: Service, decided: StatusChangeDecided) -> None:
    delivery = InProcessDelivery(service.runtime.sessions, service.runtime.handlers)
    await delivery.deliver(decided, source=NATIONAL, target=school_ref())


async def test_a_suspension_goes_to_the_authority_and_moves_the_roster(service: Service) -> None:
    number = await enrolled(service.runtime.sessions)
    sent = await service.client.post(PATH, json=body(number))
    assert sent.status_code == 202, sent.text
    change_id = sent.json()["change_id"]

    [submitted] = [e for e in await staged(service.runtime.sessions) if e.type.startswith("status")]
    assert (submitted.type, str(submitted.target)) == ("status_change.submitted", "county:410102")
    assert submitted.payload["proofs"] == [{"index": 0, "kind": "hospital_certificate"}]
    assert submitted.payload["grade"] == 1 and submitted.payload["facts"]["ground"] == "illness"
    assert "诊断证明" not in submitted.model_dump_json()  # file names stay at the school

    read = (await service.client.get(f"/api/v1/status-changes/{change_id}")).json()
    assert (read["status"], read["proofs"][0]["filename"]) == ("submitted", "诊断证明.pdf")
    proof = await service.client.get(f"/api/v1/status-changes/{change_id}/proofs/0")
    assert (proof.status_code, proof.content) == (200, CERTIFICATE)

    await deliver(
        service,
        decision(change_id, number, from_status="enrolled", to_status="suspended", from_grade=1,
                 to_grade=1, suspended_until=date(2026, 2, 20), article="HA art. 13"),
    )  # fmt: skip
    read = (await service.client.get(f"/api/v1/status-changes/{change_id}")).json()
    assert (read["status"], read["article"]) == ("applied", "HA art. 13")
    assert read["outcome"]["suspended_until"] == "2026-02-20"
    student = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/students/{number}")
    assert student.json()["status"] == "suspended"

    # A late or repeated decision changes nothing: the change stays applied.
    await deliver(service, decision(change_id, number, outcome="rejected", rule="x"))
    assert (await service.client.get(f"/api/v1/status-changes/{change_id}")).json()["status"] == (
        "applied"
    )
    listed = (await service.client.get(PATH, params={"student_number": number})).json()
    assert [i["change_id"] for i in listed["items"]] == [change_id]


async def test_a_rejection_keeps_the_roster_and_names_the_rule(service: Service) -> None:
    number = await enrolled(service.runtime.sessions)
    change_id = (await service.client.post(PATH, json=body(number))).json()["change_id"]
    await deliver(
        service,
        decision(change_id, number, outcome="rejected", rule="deceased_is_final",
                 reason="a deceased student's registration is cancelled for good",
                 article="LS 2(五)"),
    )  # fmt: skip
    read = (await service.client.get(f"/api/v1/status-changes/{change_id}")).json()
    assert (read["status"], read["rule"], read["article"]) == (
        "rejected",
        "deceased_is_final",
        "LS 2(五)",
    )
    student = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/students/{number}")
    assert student.json()["status"] == "enrolled"


async def test_what_the_school_refuses_before_sending(service: Service) -> None:
    number = await enrolled(service.runtime.sessions)
    no_proof = await service.client.post(PATH, json=body(number, proofs=[]))
    assert (no_proof.status_code, no_proof.json()["rule"]) == (422, "proof_required")
    assert "hospital_certificate" in no_proof.json()["message"]

    no_grade = await service.client.post(PATH, json=body(number, "resume", ground=None))
    assert no_grade.status_code == 422 and "target_grade" in no_grade.text

    national_only = await service.client.post(PATH, json=body(number, "lapse"))
    assert (national_only.status_code, national_only.json()["rule"]) == (
        422,
        "change_not_requestable",
    )

    bad_file = body(number)
    bad_file["proofs"][0]["content_base64"] = "not base64!"
    refused = await service.client.post(PATH, json=bad_file)
    assert refused.status_code == 422 and "proof_base64" in refused.text

    unknown = await service.client.post(PATH, json=body("G410102201803070011"))
    assert unknown.status_code == 404

    assert (await service.client.post(PATH, json=body(number))).status_code == 202
    pending = await service.client.post(PATH, json=body(number, "go_abroad", proofs=[]))
    assert (pending.status_code, pending.json()["rule"]) == (409, "change_pending")
    assert (
        await service.client.get("/api/v1/status-changes/" + str(uuid.uuid4()))
    ).status_code == 404


async def test_national_s_own_lapse_joins_the_school_s_list(service: Service) -> None:
    number = await enrolled(service.runtime.sessions)
    lapse = StatusChangeDecided(
        change_id=uuid.uuid4(),
        school_code=PRIMARY.code,
        student_number=number,
        facts=StatusChangeFacts(change="lapse", effective_on=date(2025, 3, 1)),
        outcome="applied",
        decided_by="national:CN",
        article="LS 2(二)3",
        from_status="suspended",
        to_status="other_departure",
        from_grade=1,
        to_grade=1,
    )
    await deliver(service, lapse)
    read = (await service.client.get(f"/api/v1/status-changes/{lapse.change_id}")).json()
    assert (read["change"], read["status"]) == ("lapse", "applied")
    student = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/students/{number}")
    assert student.json()["status"] == "other_departure"


@pytest.mark.parametrize(
    ("source", "outcome"),
    [
        ("county:410105", "rejected"),  # a county that is not the school's authority
        ("county:410102", "applied"),  # the school's own authority, applying in national's place
        ("province:41", "rejected"),  # the province, though the county is the authority
    ],
)
async def test_a_decision_from_a_unit_with_no_say_is_a_security_refusal(
    service: Service, source: str, outcome: str
) -> None:
    decided = decision(str(uuid.uuid4()), "G410102201803070019", outcome)
    envelope = build_envelope(decided, source=UnitRef.parse(source), target=school_ref())
    with pytest.raises(NotAParty):
        async with service.runtime.sessions() as session, session.begin():
            await messages.on_status_change_decided(
                HandlerContext(session, envelope), decided, service.runtime.federation
            )
