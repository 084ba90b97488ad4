"""Status changes at the desk (SQLite and PostgreSQL): a task the officer decides with
the proofs' links, or one the system approves where the province's rules have the authority
only record the change; approval goes to national, rejection back to school and province."""

from __future__ import annotations

import uuid
from datetime import date

from components.approval_desk.domain import Decision, DecisionKind, TaskKind
from shared.contracts.status import StatusChangeFacts, StatusChangeSubmitted
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL, Tier
from tests.components.approval_desk import test_tasks
from tests.components.approval_desk.support import PRIMARY, decide, deliver, staged, unit
from tests.components.approval_desk.test_tasks import (
    COUNTY,
    HENAN,
    SCHOOL,
    MakeDesk,
    only_task,
)

make_desk = test_tasks.make_desk  # the role on a real database, as test_tasks has it


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
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk()
    change = submitted(ground="illness")
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
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
    assert await staged(desk.runtime) == []

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [approved] = await staged(desk.runtime)
    assert (approved.type, approved.target) == ("status_change.approved", NATIONAL)
    assert approved.payload["authority"] == "county:410102"
    assert approved.payload["facts"]["ground"] == "illness"
    assert approved.payload["proofs"] == [{"index": 0, "kind": "hospital_certificate"}]


async def test_a_rejection_goes_back_to_school_and_province(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    await deliver(desk.runtime, submitted(), source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    await decide(desk, task.task_id, Decision(DecisionKind.REJECT, "王科员", reason="证明不全"))
    sent = await staged(desk.runtime)
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
    make_desk: MakeDesk,
) -> None:
    """ZJ art. 15 style: resumption is filed (备案), not approved — per the province's file."""
    rules = {"41": {"status_change": {"recorded_by_authority": ["resume"]}}}
    desk = await make_desk(rules=rules)
    await deliver(desk.runtime, submitted("resume", target_grade=2), source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    assert (task.status, task.decided_by) == ("approved", "system")
    [approved] = await staged(desk.runtime)
    assert approved.type == "status_change.approved"

    # Anything not listed still waits for the officer.
    await deliver(desk.runtime, submitted(), source=SCHOOL, target=COUNTY)
    assert len(await staged(desk.runtime)) == 1


async def test_a_resent_submission_opens_no_second_task(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    change = submitted()
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)
    await only_task(desk)
    assert unit(Tier.COUNTY, "410102") == COUNTY


async def test_a_late_death_report_is_flagged_for_the_officer(
    make_desk: MakeDesk,
) -> None:
    """N2025 art. 21: 60 working days. A late report is not refused (the registration must be
    cancelled) but the officer sees it, and even a recorded-only change waits for them."""
    rules = {"41": {"status_change": {"recorded_by_authority": ["decease"]}}}
    desk = await make_desk(rules=rules)
    late = submitted("decease", ground="death").model_copy(
        update={
            "facts": StatusChangeFacts(
                change="decease", effective_on=date(2025, 1, 6), ground="death"
            )
        }
    )
    await deliver(desk.runtime, late, source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    assert (task.status, task.finding_count) == ("open", 1)
    assert task.status_change is not None
    [finding] = task.status_change.findings
    assert finding.rule == "death_reported_late" and "2025-04-" in finding.message
