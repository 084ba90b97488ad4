"""Transfers at the school, on SQLite and PostgreSQL: the receiving school's transfers in (checks,
proofs, national's answers, the student joining the roster) and the sending school's step
(task, reminder, decision, void, the student leaving)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from services.school.adapters.orm import closure
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import (
    TransferClosed,
    TransferCompleted,
    TransferRefused,
    TransferStepOpened,
    TransferStepReminder,
    TransferStepSettled,
)
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL
from shared.messaging.envelope import build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.testing import InProcessDelivery
from shared.resident_id import student_number_for
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.components.approval_desk.support import basic as authority_basic
from tests.services.school.transfer_support import (
    HANGZHOU_PRIMARY,
    JINSHUI_PRIMARY,
    TODAY,
    ZHONGYUAN_PRIMARY,
    School,
    completed_at,
    proof,
    school_ref,
    school_service,
    step_opened,
    summary,
)

SMALL_CLASSES = {"41": {"transfer": {"class_size_cap": 2}}}


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> AsyncIterator[School]:
    async with school_service(tmp_path / "federation", database_url) as service:
        yield service


def number_of(info: BasicInfo) -> str:
    return student_number_for(info.id_number or "")


def stranger(**overrides: Any) -> str:
    """The student number of a student of another school."""
    return number_of(authority_basic(**overrides))


def transfer_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "student_number": stranger(),
        "from_school": ZHONGYUAN_PRIMARY,
        "grade": 3,
        "class_name": "三年级2班",
        "reason": "the family moved to Jinshui district",
        "proofs": [proof()],
    }
    body.update(overrides)
    return body


def completion(
    transfer_id: uuid.UUID,
    info: BasicInfo,
    *,
    from_school: str = ZHONGYUAN_PRIMARY,
    to_school: str = JINSHUI_PRIMARY,
    with_basic: bool = True,
) -> TransferCompleted:
    return TransferCompleted(
        transfer_id=transfer_id,
        student_number=number_of(info),
        from_school=from_school,
        to_school=to_school,
        grade=3,
        class_name="三年级2班",
        completed_at=completed_at(),
        archive_due_on=date(2026, 10, 10),
        student=summary(info, grade=3),
        basic=info if with_basic else None,
    )


# --- the receiving school ----------------------------------------------------------------


async def test_a_transfer_in_is_stored_with_its_proofs_and_sent_to_national(
    school: School,
) -> None:
    body = transfer_body()
    response = await school.post_transfer_in(JINSHUI_PRIMARY, **body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    transfer_id = accepted["transfer_id"]
    assert accepted["status"] == "pending"
    assert accepted["links"]["national"].endswith(f"/api/v1/transfers/{transfer_id}")
    assert accepted["links"]["national"].startswith("http://")

    [sent] = await school.staged("transfer.requested")
    assert sent.target == NATIONAL and sent.source == school_ref(JINSHUI_PRIMARY)
    assert sent.correlation_id == uuid.UUID(transfer_id)
    assert uuid.UUID(transfer_id).version == 7  # national's and the province's key (0059)
    payload = sent.payload
    assert payload["requested_on"] == TODAY.isoformat()
    assert (payload["student_number"], payload["from_school"], payload["to_school"]) == (
        body["student_number"],
        ZHONGYUAN_PRIMARY,
        JINSHUI_PRIMARY,
    )
    assert payload["proofs"] == [{"index": 0, "kind": "application_form"}]  # no file names
    assert "content_base64" not in str(payload)

    listed = (await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/transfers-in")).json()
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["status"], item["grade"], item["class_name"]) == ("pending", 3, "三年级2班")
    assert item["proofs"][0]["size"] == len(b"%PDF-1.4 form")

    downloaded = await school.client.get(f"/api/v1/transfers/{transfer_id}/proofs/0")
    assert downloaded.status_code == 200 and downloaded.content == b"%PDF-1.4 form"
    missing = await school.client.get(f"/api/v1/transfers/{transfer_id}/proofs/3")
    assert (missing.status_code, missing.json()["rule"]) == (404, "proof_not_found")


async def test_a_transfer_into_a_closed_school_is_refused_by_the_requests_one_read(
    school: School,
) -> None:
    """A school merged into another or closed takes no transfer in (N2013 art. 9). The
    request reads the school's closure, a pending transfer of the student and their roster
    status in one statement before it writes anything."""
    body = transfer_body()
    with recorded_statements(school.runtime.engine) as statements:
        assert (await school.post_transfer_in(JINSHUI_PRIMARY, **body)).status_code == 202
    # the school's own tables (the audit trail's head is the kernel's, read on SQLite)
    reads = [s for s in statements if s.lstrip().startswith("SELECT") and "kernel_" not in s]
    assert len(reads) == 1 and "school_closure" in reads[0], reads
    async with school.runtime.sessions() as session:
        await session.execute(
            insert(closure).values(
                school_code=JINSHUI_PRIMARY,
                merger_id=str(uuid.uuid4()),
                kind="merged",
                to_school=HANGZHOU_PRIMARY,
                closed_on=date(2026, 9, 1),
                recorded_at=datetime(2026, 9, 1, tzinfo=UTC),
            )
        )
        await session.commit()
    refused = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
    assert refused.status_code == 422, refused.text
    assert (refused.json()["rule"], refused.json()["article"]) == ("school_closed", "N2013 art. 9")
    listed = (await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/transfers-in")).json()
    assert [item["student_number"] for item in listed["items"]] == [body["student_number"]]


async def test_a_second_pending_transfer_of_the_same_student_is_a_conflict(
    school: School,
) -> None:
    body = transfer_body()
    assert (await school.post_transfer_in(JINSHUI_PRIMARY, **body)).status_code == 202
    again = await school.post_transfer_in(JINSHUI_PRIMARY, **body)
    assert (again.status_code, again.json()["rule"]) == (409, "transfer_pending")


@pytest.mark.parametrize(
    ("overrides", "status", "rule"),
    [
        ({"from_school": "4101029999"}, 422, "unknown_school"),
        ({"from_school": JINSHUI_PRIMARY}, 422, "same_school"),
    ],
    ids=["unknown-school", "same-school"],
)
async def test_the_sending_school_must_be_another_known_school(
    school: School, overrides: dict[str, Any], status: int, rule: str
) -> None:
    response = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body(**overrides))
    assert (response.status_code, response.json()["rule"]) == (status, rule)
    assert await school.staged() == []


async def test_field_rules_and_hosting(school: School) -> None:
    bad_number = await school.post_transfer_in(
        JINSHUI_PRIMARY, **transfer_body(student_number="G123")
    )
    assert bad_number.status_code == 422
    assert bad_number.json()["errors"][0]["type"].startswith("student_number.")
    wrong_grade = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body(grade=8))
    assert wrong_grade.json()["errors"][0]["type"] == "grade_stage"
    not_here = await school.post_transfer_in(HANGZHOU_PRIMARY, **transfer_body())
    assert not_here.status_code == 404


async def test_henan_needs_the_origin_registration_proof_from_another_province(
    school: School,
) -> None:
    body = transfer_body(from_school=HANGZHOU_PRIMARY)
    refused = await school.post_transfer_in(JINSHUI_PRIMARY, **body)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "missing_required_proof"
    assert "origin_registration_proof" in refused.json()["message"]
    assert "HA art. 11(二)" in refused.json()["message"]

    body["proofs"] = [proof(), proof("origin_registration_proof")]
    assert (await school.post_transfer_in(JINSHUI_PRIMARY, **body)).status_code == 202
    # within the province the proof is not asked for
    local = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
    assert local.status_code == 202


async def test_a_full_class_takes_no_transfer_counting_transfers_in_flight(
    tmp_path: Path, database_url: str
) -> None:
    async with school_service(tmp_path / "f", database_url, rules=SMALL_CLASSES) as school:
        # one student already in 三年级2班 (arrived by transfer), one transfer in flight
        arrived = authority_basic(grade=3)
        await school.deliver(completion(uuid.uuid4(), arrived), JINSHUI_PRIMARY)
        first = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
        assert first.status_code == 202

        refused = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
        assert refused.status_code == 422
        problem = refused.json()
        assert problem["rule"] == "class_size_cap"
        assert "河南省" in problem["message"] and "LS 2(一)6(1)" in problem["message"]
        assert "2" in problem["message"]

        other_class = await school.post_transfer_in(
            JINSHUI_PRIMARY, **transfer_body(class_name="三年级1班")
        )
        assert other_class.status_code == 202
        other_grade = await school.post_transfer_in(
            JINSHUI_PRIMARY, **transfer_body(grade=4, class_name="三年级2班")
        )
        assert other_grade.status_code == 202


async def test_national_refusal_and_closing_are_shown_with_rule_and_reason(
    school: School,
) -> None:
    ids = []
    for _ in range(2):
        response = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
        ids.append(uuid.UUID(response.json()["transfer_id"]))
    refused = TransferRefused(
        transfer_id=ids[0], rule="outside_window", reason="Henan transfers Sep 1 - Oct 31"
    )
    await school.deliver(refused, JINSHUI_PRIMARY)
    closed = TransferClosed(
        transfer_id=ids[1],
        outcome="rejected",
        reason="under discipline (HA art. 11(四))",
        rule="under_discipline",
    )
    await school.deliver(closed, JINSHUI_PRIMARY)
    await school.deliver(closed, JINSHUI_PRIMARY)  # a duplicate changes nothing

    items = {
        i["transfer_id"]: i
        for i in (
            await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/transfers-in")
        ).json()["items"]
    }
    first, second = items[str(ids[0])], items[str(ids[1])]
    assert (first["status"], first["rule"]) == ("refused", "outside_window")
    assert (second["status"], second["rule"]) == ("rejected", "under_discipline")
    assert second["status_reason"].startswith("under discipline")

    with pytest.raises(PermanentMessageError):
        await school.deliver(
            TransferRefused(transfer_id=uuid.uuid4(), rule="x", reason="y"), JINSHUI_PRIMARY
        )


async def test_cancelling_asks_national_and_waits_for_its_answer(school: School) -> None:
    response = await school.post_transfer_in(JINSHUI_PRIMARY, **transfer_body())
    transfer_id = response.json()["transfer_id"]
    registrar = auth_headers(f"school:{JINSHUI_PRIMARY}", Role.REGISTRAR)

    cancelled = await school.client.post(
        f"/api/v1/transfers/{transfer_id}/cancel",
        json={"reason": "the family stays"},
        headers=registrar,
    )
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "pending"
    assert cancelled.json()["cancel_requested_at"] is not None
    [request] = await school.staged("transfer.cancel_requested")
    assert request.target == NATIONAL and request.payload["reason"] == "the family stays"
    again = await school.client.post(
        f"/api/v1/transfers/{transfer_id}/cancel", json={"reason": "again"}, headers=registrar
    )
    assert (again.status_code, again.json()["rule"]) == (409, "cancel_already_requested")

    closed = TransferClosed(
        transfer_id=uuid.UUID(transfer_id), outcome="cancelled", reason="the family stays"
    )
    await school.deliver(closed, JINSHUI_PRIMARY)
    read = await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/transfers-in/{transfer_id}")
    assert read.json()["status"] == "cancelled"
    late = await school.client.post(
        f"/api/v1/transfers/{transfer_id}/cancel", json={"reason": "late"}, headers=registrar
    )
    assert (late.status_code, late.json()["rule"]) == (409, "transfer_not_pending")


# --- completion at both schools ----------------------------------------------------------


async def test_completion_moves_the_student_between_the_rosters(school: School) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY, grade=3, birth_date=date(2017, 5, 1))
    number = number_of(info)
    response = await school.post_transfer_in(
        JINSHUI_PRIMARY, **transfer_body(student_number=number)
    )
    transfer_id = uuid.UUID(response.json()["transfer_id"])
    completed = completion(transfer_id, info)

    await school.deliver(completed, JINSHUI_PRIMARY)
    await school.deliver(completed, ZHONGYUAN_PRIMARY)

    arrived = await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/students/{number}")
    assert arrived.status_code == 200
    student = arrived.json()
    assert (student["status"], student["grade"], student["class_name"]) == (
        "enrolled",
        3,
        "三年级2班",
    )
    assert (student["id_type"], student["id_number"]) == ("resident_id", info.id_number)
    assert student["enrolled_on"] == info.enrolled_on.isoformat()
    transfer = await school.client.get(
        f"/api/v1/schools/{JINSHUI_PRIMARY}/transfers-in/{transfer_id}"
    )
    assert transfer.json()["status"] == "completed"

    # the sending school holds only its backup (decision 0043): off the live roster, the
    # single read answers 404 naming where to and when, no personal data
    left = await school.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/students/{number}")
    assert (left.status_code, left.json()["rule"]) == (404, "student_left_school")
    assert JINSHUI_PRIMARY in left.json()["message"]
    assert info.name not in left.text  # (a G number is the ID number; the caller named it)
    roster = await school.client.get(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/students", params={"q": number}
    )
    assert roster.json()["total"] == 0
    listed = await school.client.get(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/students", params={"status": "transferred_out"}
    )
    assert number not in listed.text
    # its history list shows who left, to where and when, and where the backup is
    history = await school.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/departures")
    gone = [d for d in history.json()["items"] if d["student_number"] == number]
    assert [(d["name"], d["kind"], d["to_school"], d["grade"]) for d in gone] == [
        (info.name, "transfer", JINSHUI_PRIMARY, 3)
    ]
    assert gone[0]["left_on"] == completed.completed_at.date().isoformat()
    assert gone[0]["links"]["backup"].endswith(f"/archive-backups/{number}")
    assert "id_number" not in gone[0]
    # heard again, the completion lists the student once
    await school.deliver(completed, ZHONGYUAN_PRIMARY)
    again_history = await school.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/departures")
    assert sum(d["student_number"] == number for d in again_history.json()["items"]) == 1
    # the sending school's record is read-only now
    change = await school.client.post(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/students/{number}/key-field-changes",
        json={"changes": {"name": "李四"}, "reason": "renamed", "proofs": [proof("hukou_proof")]},
    )
    assert (change.status_code, change.json()["rule"]) == (409, "student_transferred_out")
    # a new transfer of the student into the receiving school is refused: already enrolled
    again = await school.post_transfer_in(
        JINSHUI_PRIMARY,
        **transfer_body(student_number=number, from_school=ZHONGYUAN_PRIMARY),
    )
    assert (again.status_code, again.json()["rule"]) == (409, "already_enrolled")


async def test_without_the_registry_basic_info_the_number_gives_the_identity(
    school: School,
) -> None:
    info = authority_basic(grade=3)
    await school.deliver(completion(uuid.uuid4(), info, with_basic=False), JINSHUI_PRIMARY)
    student = (
        await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/students/{number_of(info)}")
    ).json()
    assert (student["id_type"], student["id_number"], student["name"]) == (
        "resident_id",
        info.id_number,
        info.name,
    )
    assert student["enrolled_on"] == "2026-09-10"


# --- the sending school's step -----------------------------------------------------------


async def tasks(school: School, **params: Any) -> dict[str, Any]:
    response = await school.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_sending_school_decides_its_step(school: School) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    step = step_opened(info)
    opened = await school.deliver(step)
    await school.deliver(step)  # redelivered: still one task

    page = await tasks(school)
    assert page["total"] == 1
    [task] = page["items"]
    assert (task["status"], task["due_on"], task["overdue"]) == ("open", "2026-09-21", False)
    assert (task["to_school"], task["roster_status"]) == (JINSHUI_PRIMARY, "enrolled")
    assert task["student"]["name"] == info.name
    [link] = task["proofs"]
    assert link["url"].startswith("http://") and link["url"].endswith(
        f"/api/v1/transfers/{step.transfer_id}/proofs/0"
    )

    await school.deliver(
        TransferStepReminder(
            transfer_id=step.transfer_id,
            step_id=step.step_id,
            role="sending_school",
            due_on=step.due_on,
            working_days_left=3,
        )
    )
    assert (await tasks(school))["items"][0]["reminded_at"] is not None

    no_reason = await school.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "reject"}
    )
    assert no_reason.status_code == 422
    decided = await school.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve"},
    )
    assert decided.status_code == 200, decided.text
    decider = f"test-school-{ZHONGYUAN_PRIMARY}"  # the token's account, whatever the body says
    assert (decided.json()["status"], decided.json()["decided_by"]) == ("approved", decider)

    [sent] = await school.staged("transfer.step_decided")
    assert sent.target == NATIONAL and sent.correlation_id == opened.correlation_id
    assert sent.payload == {
        "transfer_id": str(step.transfer_id),
        "step_id": str(step.step_id),
        "decision": "approve",
        "reason": None,
        "decided_by": f"test-school-{ZHONGYUAN_PRIMARY}",  # the token's account
        "decided_unit": f"school:{ZHONGYUAN_PRIMARY}",
        "intervention": False,
        "rule": None,
    }
    twice = await school.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "reject", "reason": "no"},
    )
    assert (twice.status_code, twice.json()["rule"]) == (409, "task_already_decided")


async def test_the_school_decides_several_steps_in_one_request(school: School) -> None:
    """Each task checked as alone (another school's task is 404, a decided one 409), the
    decided ones' messages staged together, one audit entry per task; the polled list is 304
    while unchanged, without an audit entry."""
    mine = [step_opened(await school.enrol(ZHONGYUAN_PRIMARY)) for _ in range(2)]
    for step in mine:
        await school.deliver(step)
    other = step_opened(await school.enrol(JINSHUI_PRIMARY), from_school=JINSHUI_PRIMARY,
                        to_school=ZHONGYUAN_PRIMARY)  # fmt: skip
    await school.deliver(other, JINSHUI_PRIMARY)
    listed = await school.client.get(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks", params={"status": "open"}
    )
    first, second = (t["task_id"] for t in listed.json()["items"])
    theirs = await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/tasks")
    [foreign] = [t["task_id"] for t in theirs.json()["items"]]
    unchanged = await school.client.get(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks",
        params={"status": "open"},
        headers={"If-None-Match": listed.headers["etag"]},
    )
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    seq = await school.audit_head()

    approver = auth_headers(f"school:{ZHONGYUAN_PRIMARY}", Role.APPROVER)
    decisions = [
        {"task_id": first, "decision": "approve"},
        {"task_id": foreign, "decision": "approve"},
        {"task_id": second, "decision": "reject", "reason": "家长撤回"},
    ]
    response = await school.client.post(
        "/api/v1/tasks/decisions", json={"decisions": decisions}, headers=approver
    )
    assert response.status_code == 200, response.text
    assert [(r["status"], r["task_status"], r["rule"]) for r in response.json()["results"]] == [
        (200, "approved", None),
        (404, None, "task_not_found"),
        (200, "rejected", None),
    ]
    sent = await school.staged("transfer.step_decided")
    assert sorted((m.payload["step_id"], m.payload["decision"]) for m in sent) == sorted(
        [(str(mine[0].step_id), "approve"), (str(mine[1].step_id), "reject")]
    )
    written = await school.audit_since(seq)
    assert [(e.object_id, e.unit_code, e.outcome) for e in written] == [
        (first, ZHONGYUAN_PRIMARY, "ok"),
        (foreign, None, "refused 404 task_not_found"),
        (second, ZHONGYUAN_PRIMARY, "ok"),
    ]
    jinshui = auth_headers(f"school:{JINSHUI_PRIMARY}")
    still = await school.client.get(f"/api/v1/tasks/{foreign}", headers=jinshui)
    assert still.json()["status"] == "open"

    again = await school.client.post(
        "/api/v1/tasks/decisions", json={"decisions": decisions[:1]}, headers=approver
    )
    assert [(r["status"], r["rule"]) for r in again.json()["results"]] == [
        (409, "task_already_decided")
    ]
    changed = await school.client.get(
        f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks",
        params={"status": "open"},
        headers={"If-None-Match": listed.headers["etag"]},
    )
    assert changed.status_code == 200 and changed.json()["total"] == 0


async def test_overdue_tasks_are_flagged_and_counted(school: School) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    await school.deliver(step_opened(info, due_on=date(2026, 9, 4)))  # due last Friday
    await school.deliver(step_opened(info))

    assert [t["overdue"] for t in (await tasks(school))["items"]] == [True, False]
    overdue = await tasks(school, overdue="true")
    assert overdue["total"] == 1 and overdue["items"][0]["due_on"] == "2026-09-04"

    metrics = (await school.runtime.metrics.render()).decode()
    unit = f"school:{ZHONGYUAN_PRIMARY}"
    series = f'xueji_desk_tasks{{kind="transfer_step",state="%s",unit="{unit}"}} %s'
    assert series % ("open", "2.0") in metrics and series % ("overdue", "1.0") in metrics
    assert 'kind="registration_batch"' not in metrics  # a school decides its steps only


async def test_a_closed_transfer_voids_the_open_task(school: School) -> None:
    """… and, like the task's opening, changes the polled list's ETag (decision 0020)."""
    url = f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks"
    empty = (await school.client.get(url)).headers["etag"]
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    step = step_opened(info)
    await school.deliver(step)
    opened = await school.client.get(url, headers={"If-None-Match": empty})
    assert opened.status_code == 200 and opened.headers["etag"] != empty
    closed = TransferClosed(
        transfer_id=step.transfer_id, outcome="rejected", reason="receiving county rejected"
    )
    await school.deliver(closed)
    voided = await school.client.get(url, headers={"If-None-Match": opened.headers["etag"]})
    assert voided.status_code == 200 and voided.headers["etag"] != opened.headers["etag"]

    [task] = (await tasks(school))["items"]
    assert task["status"] == "void" and "rejected" in task["decision_reason"]
    late = await school.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve"},
    )
    assert late.status_code == 409
    assert await school.staged("transfer.step_decided") == []


async def test_an_intervention_by_the_county_voids_the_schools_task(school: School) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    step = step_opened(info, due_on=date(2026, 9, 4))
    await school.deliver(step)
    settled = TransferStepSettled(
        transfer_id=step.transfer_id,
        step_id=step.step_id,
        decision="approve",
        decided_unit="county:410102",
        intervention=True,
    )
    await school.deliver(settled)

    [task] = (await tasks(school))["items"]
    assert task["status"] == "void" and "county:410102" in task["decision_reason"]
    late = await school.client.post(
        f"/api/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve"},
    )
    assert late.status_code == 409


async def test_completion_voids_a_task_the_county_decided_in_the_schools_place(
    school: School,
) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    step = step_opened(info, due_on=date(2026, 9, 4))
    await school.deliver(step)
    await school.deliver(completion(step.transfer_id, info), ZHONGYUAN_PRIMARY)
    [task] = (await tasks(school))["items"]
    assert (task["status"], task["overdue"]) == ("void", False)
    assert task["decision_reason"].startswith("transfer completed")


async def test_a_step_for_another_party_is_dead_lettered(school: School) -> None:
    info = await school.enrol(ZHONGYUAN_PRIMARY)
    with pytest.raises(PermanentMessageError):
        await school.deliver(step_opened(info, role="sending_authority"))
    with pytest.raises(PermanentMessageError):
        await school.deliver(step_opened(info), JINSHUI_PRIMARY)
    assert (await tasks(school))["total"] == 0


async def test_a_long_poll_of_the_tasks_answers_when_a_step_opens(school: School) -> None:
    url = f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks"
    tag = {"If-None-Match": (await school.client.get(url)).headers["etag"]}
    assert (await school.client.get(url, params={"wait": 0.2}, headers=tag)).status_code == 304
    poll = asyncio.create_task(school.client.get(url, params={"wait": 20}, headers=tag))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await school.deliver(step_opened(await school.enrol(ZHONGYUAN_PRIMARY)))
    answered = await asyncio.wait_for(poll, 5)
    assert answered.status_code == 200 and answered.json()["total"] == 1


async def test_an_offset_past_int32_is_an_empty_page(school: School) -> None:
    """The page's offset binds as a BIGINT: PostgreSQL refused 2**31 as an INTEGER (a 500)."""
    url = f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks"
    page = await school.client.get(url, params={"offset": 2**31})
    assert page.status_code == 200 and page.json()["items"] == []


# --- a delivery batch's run of steps, applied at once ------------------------------------


async def apply_at_once(school: School, steps: list[tuple[TransferStepOpened, str]]) -> None:
    """National's steps, each to its school, as one delivery batch (one run, one transaction)."""
    envelopes = [build_envelope(s, source=NATIONAL, target=school_ref(c)) for s, c in steps]
    await InProcessDelivery(school.runtime.sessions, school.runtime.handlers).apply(envelopes)


async def test_a_run_of_steps_shows_each_schools_roster_status(school: School) -> None:
    """One roster read for the run, each task with its own school's entry of the student: as
    one step at a time would show it."""
    here = await school.enrol(ZHONGYUAN_PRIMARY)
    there = await school.enrol(JINSHUI_PRIMARY)
    gone = await school.enrol(ZHONGYUAN_PRIMARY)
    first = step_opened(gone)
    await school.deliver(first)
    await school.deliver(completion(first.transfer_id, gone), ZHONGYUAN_PRIMARY)
    run = [
        (step_opened(here), ZHONGYUAN_PRIMARY),
        (step_opened(there, from_school=JINSHUI_PRIMARY), JINSHUI_PRIMARY),
        (first, ZHONGYUAN_PRIMARY),  # redelivered: its task stays as it was
        (step_opened(there), ZHONGYUAN_PRIMARY),  # not on this school's roster
        (step_opened(gone), ZHONGYUAN_PRIMARY),  # left this school
    ]
    await apply_at_once(school, run)

    jinshui = auth_headers(f"school:{JINSHUI_PRIMARY}")
    theirs = await school.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/tasks", headers=jinshui)
    listed = [*(await tasks(school))["items"], *theirs.json()["items"]]
    shown = {(t["school_code"], t["student_number"], t["status"]): t for t in listed}
    assert len(listed) == len(shown) == 5
    statuses = {key: task["roster_status"] for key, task in shown.items()}
    assert statuses == {
        (ZHONGYUAN_PRIMARY, number_of(here), "open"): "enrolled",
        (JINSHUI_PRIMARY, number_of(there), "open"): "enrolled",
        (ZHONGYUAN_PRIMARY, number_of(there), "open"): None,
        (ZHONGYUAN_PRIMARY, number_of(gone), "open"): "transferred_out",
        (ZHONGYUAN_PRIMARY, number_of(gone), "void"): "enrolled",  # when it opened
    }


async def test_the_statements_of_a_run_of_steps_do_not_grow_with_its_length(
    school: School,
) -> None:
    """The same statements for a run of 3 as of 30, over two schools with a redelivery."""
    counted: list[list[str]] = []
    for size in (3, 30):
        redelivered = step_opened(await school.enrol(ZHONGYUAN_PRIMARY))
        await school.deliver(redelivered)
        run = [(redelivered, ZHONGYUAN_PRIMARY)]
        run += [(step_opened(authority_basic()), ZHONGYUAN_PRIMARY) for _ in range(size // 2)]
        run += [
            (step_opened(authority_basic(), from_school=JINSHUI_PRIMARY), JINSHUI_PRIMARY)
            for _ in range(size - len(run))
        ]
        with recorded_statements(school.runtime.engine) as statements:
            await apply_at_once(school, run)
        counted.append(statements)
    of_3, of_30 = counted
    assert len(of_3) == len(of_30), (of_3, of_30)
    assert any("school_student" in statement for statement in of_30)  # the one roster read
