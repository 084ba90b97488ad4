"""A party's step of a cohort's progression on the desk, against a real database (SQLite and
PostgreSQL): one task for the whole cohort with a student per item, approval leaving some
students out (each with its reason), rejection, and void tasks when the progression closes."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus
from shared.contracts.progression import (
    CohortStudent,
    ProgressionClosed,
    ProgressionStepOpened,
    ProgressionStepOverdue,
    ProgressionStepSettled,
    item_reference,
)
from shared.contracts.students import BasicInfo, IdType
from shared.federation.config import NATIONAL
from shared.messaging.errors import PermanentMessageError
from shared.runtime.errors import DomainError
from tests.components.approval_desk.support import PRIMARY, ZHONGYUAN, decide, deliver, staged
from tests.components.approval_desk.test_transfer_tasks import COUNTY, TODAY, MakeDesk, tasks

JUNIOR = "4101020002"  # county 410102, like PRIMARY


def student(n: int) -> CohortStudent:
    number = f"G41010220140314{n:03d}X"
    return CohortStudent(
        student_number=number,
        basic=BasicInfo(
            name=f"学生{n}",
            gender="male",
            birth_date=date(2014, 3, 14),
            id_type=IdType.RESIDENT_ID,
            id_number=number[1:],
            grade=6,
            enrolled_on=date(2020, 9, 1),
        ),
        status="graduated",
    )


def step(role: str = "receiving_authority", size: int = 3) -> ProgressionStepOpened:
    return ProgressionStepOpened(
        progression_id=uuid.uuid4(),
        step_id=uuid.uuid4(),
        role=role,
        from_school=PRIMARY,
        to_school=JUNIOR,
        grade=7,
        students=tuple(student(n) for n in range(size)),
        opened_on=TODAY,
        due_on=date(2026, 9, 21),
        due_approximate=False,
    )


async def test_one_task_for_the_whole_cohort(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step(size=3)
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)  # redelivered

    [task] = await tasks(desk, ZHONGYUAN)
    assert (task.kind, task.status, task.item_count) == (TaskKind.PROGRESSION_STEP, "open", 3)
    assert (task.transfer_id, task.subject_id, task.due_on) == (
        opened.progression_id, opened.step_id, opened.due_on,
    )  # fmt: skip
    assert task.progression is not None
    assert (task.progression.grade, task.progression.to_school) == (7, JUNIOR)
    assert [i.basic.name for i in task.items] == ["学生0", "学生1", "学生2"]
    assert [s.item_id for s in task.progression.students] == [i.registration_id for i in task.items]


async def test_an_approval_may_leave_students_out(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step(size=3)
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    [task] = await tasks(desk, ZHONGYUAN)
    left = item_reference(opened.progression_id, opened.students[1].student_number)
    await decide(
        desk,
        task.task_id,
        Decision(DecisionKind.APPROVE, "王科员", rejected_items={left: "未到校报到"}),
    )
    [sent] = await staged(desk.runtime, "progression.step_decided")
    assert sent.target == NATIONAL
    assert sent.payload["decision"] == "approve"
    assert sent.payload["left_out"] == [
        {"student_number": opened.students[1].student_number, "reason": "未到校报到"}
    ]
    [task] = await tasks(desk, ZHONGYUAN)
    assert [i.status for i in task.items] == ["approved", "rejected", "approved"]


async def test_a_rejection_answers_for_the_whole_cohort(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    await deliver(desk.runtime, step(), source=NATIONAL, target=COUNTY)
    [task] = await tasks(desk, ZHONGYUAN)
    await decide(desk, task.task_id, Decision(DecisionKind.REJECT, "王科员", reason="学位已满"))
    [sent] = await staged(desk.runtime, "progression.step_decided")
    assert (sent.payload["decision"], sent.payload["left_out"]) == ("reject", [])


async def test_leaving_out_every_student_is_a_rejection_instead(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step(size=1)
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    [task] = await tasks(desk, ZHONGYUAN)
    only = item_reference(opened.progression_id, opened.students[0].student_number)
    with pytest.raises(DomainError) as refused:
        await decide(
            desk, task.task_id, Decision(DecisionKind.APPROVE, "王", rejected_items={only: "x"})
        )
    assert refused.value.rule == "every_item_rejected"


async def test_a_closed_progression_voids_the_open_task(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step()
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    closed = ProgressionClosed(
        progression_id=opened.progression_id, outcome="rejected", reason="rejected elsewhere"
    )
    await deliver(desk.runtime, closed, source=NATIONAL, target=COUNTY)
    [task] = await tasks(desk, ZHONGYUAN)
    assert task.status == TaskStatus.VOID


async def test_a_step_of_another_party_is_dead_lettered(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    with pytest.raises(PermanentMessageError):
        await deliver(desk.runtime, step("sending_school"), source=NATIONAL, target=COUNTY)


async def test_a_late_partys_superior_decides_the_step_for_it(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step("sending_school")
    overdue = ProgressionStepOverdue(
        progression_id=opened.progression_id,
        step_id=opened.step_id,
        role="sending_school",
        party=f"school:{PRIMARY}",
        from_school=PRIMARY,
        to_school=JUNIOR,
        grade=7,
        student_count=3,
        due_on=date(2026, 9, 4),
    )
    await deliver(desk.runtime, overdue, source=NATIONAL, target=COUNTY)
    await deliver(desk.runtime, overdue, source=NATIONAL, target=COUNTY)  # redelivered
    [task] = await tasks(desk, ZHONGYUAN)
    assert task.progression is not None and task.progression.late_party == f"school:{PRIMARY}"
    assert (task.item_count, task.overdue) == (3, True)
    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [sent] = await staged(desk.runtime, "progression.step_decided")
    assert (sent.payload["decided_unit"], sent.payload["intervention"]) == ("county:410102", True)


async def test_a_settled_step_voids_the_task_of_whoever_did_not_decide(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step()
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    settled = ProgressionStepSettled(
        progression_id=opened.progression_id,
        step_id=opened.step_id,
        decided_unit="province:41",
        intervention=True,
    )
    await deliver(desk.runtime, settled, source=NATIONAL, target=COUNTY)
    [task] = await tasks(desk, ZHONGYUAN)
    assert task.status == TaskStatus.VOID
