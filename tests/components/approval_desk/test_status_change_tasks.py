"""Status changes at the authority (SQLite and PostgreSQL): a task the officer decides with
the proofs' links, or one the system approves where the province's rules have the authority
only record the change; approval goes to national, rejection back to school and province."""

from __future__ import annotations

import uuid
from datetime import date

from components.approval_desk import decisions
from components.approval_desk.domain import Decision, DecisionKind, TaskKind
from shared.contracts.status import StatusChangeFacts, StatusChangeSubmitted
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL, Tier
from tests.components.approval_desk import test_tasks
from tests.components.approval_desk.support import PRIMARY, deliver, staged, unit
from tests.components.approval_desk.test_tasks import (
    COUNTY,
    HENAN,
    SCHOOL,
    MakeAuthority,
    only_task,
)

make_authority = test_tasks.make_authority  # the role on a real database, as test_tasks has it


def submitted(change: str = "suspend", **facts: object) -> StatusChangeSubmitted:
    return StatusChangeSubmitted(
        change_id=uuid.uuid4(),
        school_code=PRIMARY,
        student_number="G410102201803070019",
        facts=StatusChangeFacts(change=change, effective_on=date(2026, 9, 1), **facts),  # type: ignore[arg-type]
        grade=2,
        reason="因病休学",
        proofs=(ProofRef(index=0, kind="hospital_certificate"),),
    )


async def test_the_officer_decides_with_the_proofs_at_the_school(
    make_authority: MakeAuthority,
) -> None:
    authority = await make_authority()
    change = submitted(ground="illness")
    await deliver(authority.runtime, change, source=SCHOOL, target=COUNTY)

    task = await only_task(authority)
    assert (task.kind, task.status, task.subject_id) == (
        TaskKind.STATUS_CHANGE,
        "open",
        change.change_id,
    )
    assert task.status_change is not None
    assert (task.status_change.facts.change, task.status_change.grade) == ("suspend", 2)
    [proof] = task.status_change.proofs
    assert proof.kind == "hospital_certificate"
    assert proof.url.endswith(f"/api/v1/status-changes/{change.change_id}/proofs/0")
    assert await staged(authority.runtime) == []

    await decisions.decide(authority, str(task.task_id), Decision(DecisionKind.APPROVE, "王科员"))
    [approved] = await staged(authority.runtime)
    assert (approved.type, approved.target) == ("status_change.approved", NATIONAL)
    assert approved.payload["authority"] == "county:410102"
    assert approved.payload["facts"]["ground"] == "illness"
    assert approved.payload["proofs"] == [{"index": 0, "kind": "hospital_certificate"}]


async def test_a_rejection_goes_back_to_school_and_province(make_authority: MakeAuthority) -> None:
    authority = await make_authority()
    await deliver(authority.runtime, submitted(), source=SCHOOL, target=COUNTY)
    task = await only_task(authority)
    await decisions.decide(
        authority, str(task.task_id), Decision(DecisionKind.REJECT, "王科员", reason="证明不全")
    )
    sent = await staged(authority.runtime)
    assert [(e.type, e.target) for e in sent] == [
        ("status_change.decided", SCHOOL),
        ("status_change.decided", HENAN),
    ]
    assert (sent[0].payload["outcome"], sent[0].payload["rule"], sent[0].payload["reason"]) == (
        "rejected",
        "authority_rejected",
        "证明不全",
    )


async def test_a_change_the_authority_only_records_is_approved_by_the_system(
    make_authority: MakeAuthority,
) -> None:
    """ZJ art. 15 style: resumption is filed (备案), not approved — per the province's file."""
    rules = {"41": {"status_change": {"recorded_by_authority": ["resume"]}}}
    authority = await make_authority(rules=rules)
    await deliver(
        authority.runtime, submitted("resume", target_grade=2), source=SCHOOL, target=COUNTY
    )
    task = await only_task(authority)
    assert (task.status, task.decided_by) == ("approved", "system")
    [approved] = await staged(authority.runtime)
    assert approved.type == "status_change.approved"

    # Anything not listed still waits for the officer.
    await deliver(authority.runtime, submitted(), source=SCHOOL, target=COUNTY)
    assert len(await staged(authority.runtime)) == 1


async def test_a_resent_submission_opens_no_second_task(make_authority: MakeAuthority) -> None:
    authority = await make_authority()
    change = submitted()
    await deliver(authority.runtime, change, source=SCHOOL, target=COUNTY)
    await deliver(authority.runtime, change, source=SCHOOL, target=COUNTY)
    await only_task(authority)
    assert unit(Tier.COUNTY, "410102") == COUNTY


async def test_a_late_death_report_is_flagged_for_the_officer(
    make_authority: MakeAuthority,
) -> None:
    """N2025 art. 21: 60 working days. A late report is not refused (the registration must be
    cancelled) but the officer sees it, and even a recorded-only change waits for them."""
    rules = {"41": {"status_change": {"recorded_by_authority": ["decease"]}}}
    authority = await make_authority(rules=rules)
    late = submitted("decease", ground="death").model_copy(
        update={
            "facts": StatusChangeFacts(
                change="decease", effective_on=date(2025, 1, 6), ground="death"
            )
        }
    )
    await deliver(authority.runtime, late, source=SCHOOL, target=COUNTY)
    task = await only_task(authority)
    assert (task.status, task.finding_count) == ("open", 1)
    assert task.status_change is not None
    [finding] = task.status_change.findings
    assert finding.rule == "death_reported_late" and "2025-04-" in finding.message
