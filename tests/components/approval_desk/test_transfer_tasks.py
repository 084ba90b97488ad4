"""The authority's part in transfers against a real database (SQLite and PostgreSQL): its own
steps as tasks with due dates, interventions for late parties it supervises, reminders, void
tasks when a transfer ends elsewhere, the decisions it sends national, and its task gauge."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from components.approval_desk import messages, queries
from components.approval_desk.desk import ApprovalDesk, KindPolicy
from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus
from components.approval_desk.metrics import register_task_gauge
from components.approval_desk.schemas import TaskListQuery, TaskRead
from components.approval_desk.tables import define_desk_tables
from devtools.testing import federation_copy
from shared.contracts.transfer import (
    ProofRef,
    StudentSummary,
    TransferClosed,
    TransferStepOpened,
    TransferStepOverdue,
    TransferStepReminder,
    TransferStepSettled,
)
from shared.db.list_versions import list_version_metadata
from shared.federation.config import NATIONAL, Tier
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.tables import kernel_metadata
from shared.runtime.errors import Conflict
from shared.runtime.service import build_runtime
from shared.runtime.settings import DEFAULT_AMQP_URL
from tests.components.approval_desk.support import (
    PRIMARY,
    ZHONGYUAN,
    decide,
    deliver,
    settings_for,
    staged,
    unit,
)

TODAY = date(2026, 9, 7)
JINSHUI = "410105"
JINSHUI_PRIMARY = "4101050001"  # a school of county 410105
COUNTY = unit(Tier.COUNTY, ZHONGYUAN)
RECEIVING_COUNTY = unit(Tier.COUNTY, JINSHUI)
HENAN = unit(Tier.PROVINCE, "41")
STUDENT = StudentSummary(name="张三", gender="male", birth_date=date(2017, 5, 1), grade=3)

MakeDesk = Callable[..., Awaitable[ApprovalDesk]]


@pytest.fixture
async def make_desk(tmp_path: Path, database_url: str) -> AsyncIterator[MakeDesk]:
    """The role on a county or province runtime, today pinned, with tables of its own."""
    built: list[ApprovalDesk] = []

    async def make(
        tier: Tier = Tier.COUNTY,
        instance: str = "county-41",
        *,
        url: str | None = None,
        policies: Mapping[TaskKind, KindPolicy] | None = None,
    ) -> ApprovalDesk:
        """``url``: another database than the test's; ``policies``: the desk's."""
        config = federation_copy(tmp_path / f"federation-{len(built)}")
        settings = settings_for(config, instance, url or database_url, DEFAULT_AMQP_URL)
        handlers = HandlerRegistry()
        runtime = build_runtime(tier, settings.model_copy(update={"today": TODAY}), handlers)
        metadata = MetaData()
        desk = ApprovalDesk(runtime, define_desk_tables(metadata), policies=policies or {})
        async with runtime.engine.begin() as connection:
            await connection.run_sync(kernel_metadata.create_all, checkfirst=True)
            await connection.run_sync(list_version_metadata.create_all, checkfirst=True)
            await connection.run_sync(metadata.create_all, checkfirst=True)
        messages.register(handlers, desk)
        built.append(desk)
        return desk

    yield make
    for desk in built:
        await desk.runtime.engine.dispose()


def step(
    role: str = "sending_authority",
    due_on: date = date(2026, 9, 21),
    transfer_id: uuid.UUID | None = None,
) -> TransferStepOpened:
    return TransferStepOpened.model_validate(
        {
            "transfer_id": transfer_id or uuid.uuid4(),
            "step_id": uuid.uuid4(),
            "role": role,
            "student_number": "G410102201705010015",
            "student": STUDENT,
            "from_school": PRIMARY,
            "to_school": JINSHUI_PRIMARY,
            "reason": "the family moved",
            "opened_on": TODAY,
            "due_on": due_on,
            "due_approximate": False,
            "proofs": (ProofRef(index=0, kind="application_form"),),
        }
    )


def overdue(opened: TransferStepOpened, role: str, party: str) -> TransferStepOverdue:
    return TransferStepOverdue.model_validate(
        {
            **opened.model_dump(include={"transfer_id", "step_id", "student_number"}),
            "student": STUDENT,
            "from_school": opened.from_school,
            "to_school": opened.to_school,
            "role": role,
            "party": party,
            "due_on": date(2026, 9, 4),
            "reason": opened.reason,
            "proofs": [p.model_dump() for p in opened.proofs],
        }
    )


async def tasks(desk: ApprovalDesk, code: str, **query: Any) -> list[TaskRead]:
    page = await queries.list_tasks(desk, desk.unit(code), TaskListQuery(**query))
    return [await queries.read_task(desk, t.task_id) for t in page.items]


async def test_an_authority_step_becomes_a_task_with_its_due_date_and_proof_links(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk()
    opened = step()
    envelope = await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)  # redelivered

    [task] = await tasks(desk, ZHONGYUAN)
    assert (task.kind, task.status, task.school_code) == (TaskKind.TRANSFER_STEP, "open", PRIMARY)
    assert (task.due_on, task.due_approximate, task.overdue) == (opened.due_on, False, False)
    assert task.transfer_id == opened.transfer_id and task.subject_id == opened.step_id
    assert uuid.UUID(str(task.task_id)).version == 7  # time-ordered (decision 0059)
    assert task.transfer is not None
    assert (task.transfer.role, task.transfer.student.name) == ("sending_authority", "张三")
    assert (task.transfer.from_school, task.transfer.to_school) == (PRIMARY, JINSHUI_PRIMARY)
    [proof] = task.transfer.proofs
    assert proof.url.startswith("http://127.0.0.1:")
    assert proof.url.endswith(f"/api/v1/transfers/{opened.transfer_id}/proofs/0")

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [sent] = await staged(desk.runtime, "transfer.step_decided")
    assert sent.target == NATIONAL and sent.source == COUNTY
    assert sent.correlation_id == envelope.correlation_id
    assert sent.payload == {
        "transfer_id": str(opened.transfer_id),
        "step_id": str(opened.step_id),
        "decision": "approve",
        "reason": None,
        "decided_by": "王科员",
        "decided_unit": "county:410102",
        "intervention": False,
        "rule": None,
    }
    with pytest.raises(Conflict):
        await decide(desk, task.task_id, Decision(DecisionKind.REJECT, "李科员", "no"))


async def test_the_receiving_authority_rejects_with_a_reason(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step("receiving_authority")
    await deliver(desk.runtime, opened, source=NATIONAL, target=RECEIVING_COUNTY)
    [task] = await tasks(desk, JINSHUI)
    assert task.school_code == JINSHUI_PRIMARY

    rejection = Decision(DecisionKind.REJECT, "赵科员", reason="no seat in grade 3")
    await decide(desk, task.task_id, rejection)
    [sent] = await staged(desk.runtime, "transfer.step_decided")
    assert (sent.payload["decision"], sent.payload["reason"]) == ("reject", "no seat in grade 3")
    assert sent.payload["decided_unit"] == "county:410105"
    assert (await tasks(desk, JINSHUI))[0].status == TaskStatus.REJECTED


@pytest.mark.parametrize(
    ("role", "target"),
    [
        ("receiving_authority", COUNTY),  # the receiving school's desk is 410105
        ("sending_authority", RECEIVING_COUNTY),
        ("sending_school", COUNTY),  # a school's own step
        ("sending_province", COUNTY),  # a province's step
    ],
)
async def test_a_step_of_another_party_is_dead_lettered(
    make_desk: MakeDesk, role: str, target: Any
) -> None:
    desk = await make_desk()
    with pytest.raises(PermanentMessageError):
        await deliver(desk.runtime, step(role), source=NATIONAL, target=target)
    assert await tasks(desk, target.code) == []


async def test_a_reminder_is_noted_on_the_task(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step()
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    reminder = TransferStepReminder(
        transfer_id=opened.transfer_id,
        step_id=opened.step_id,
        role="sending_authority",
        due_on=opened.due_on,
        working_days_left=3,
    )
    await deliver(desk.runtime, reminder, source=NATIONAL, target=COUNTY)
    assert (await tasks(desk, ZHONGYUAN))[0].reminded_at is not None


async def test_the_county_intervenes_for_its_late_school(make_desk: MakeDesk) -> None:
    """HA art. 11(三): the superior decides a late party's step on its behalf."""
    desk = await make_desk()
    opened = step("sending_school")
    late = overdue(opened, "sending_school", f"school:{PRIMARY}")
    envelope = await deliver(desk.runtime, late, source=NATIONAL, target=COUNTY)
    await deliver(desk.runtime, late, source=NATIONAL, target=COUNTY)

    [task] = await tasks(desk, ZHONGYUAN)
    assert (task.kind, task.status, task.overdue) == (
        TaskKind.TRANSFER_INTERVENTION,
        "open",
        True,
    )
    assert task.due_on == date(2026, 9, 4)
    assert task.transfer is not None and task.transfer.late_party == f"school:{PRIMARY}"
    assert task.transfer.role == "sending_school"
    # the superior reads what the late party had: the family's reason and the proofs' links
    assert task.transfer.reason == opened.reason
    assert [p.index for p in task.transfer.proofs] == [p.index for p in opened.proofs]
    assert task.transfer.proofs and all(
        p.url.endswith(f"/api/v1/transfers/{opened.transfer_id}/proofs/{p.index}")
        for p in task.transfer.proofs
    )

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [sent] = await staged(desk.runtime, "transfer.step_decided")
    assert sent.correlation_id == envelope.correlation_id
    assert (sent.payload["step_id"], sent.payload["intervention"]) == (str(opened.step_id), True)
    assert sent.payload["decided_unit"] == "county:410102"


async def test_the_province_intervenes_for_its_late_county(make_desk: MakeDesk) -> None:
    desk = await make_desk(Tier.PROVINCE, "province-41")
    opened = step("receiving_authority")
    late = overdue(opened, "receiving_authority", f"county:{JINSHUI}")
    await deliver(desk.runtime, late, source=NATIONAL, target=HENAN)
    [task] = await tasks(desk, "41")
    assert task.kind == TaskKind.TRANSFER_INTERVENTION and task.school_code == JINSHUI_PRIMARY
    await decide(desk, task.task_id, Decision(DecisionKind.REJECT, "省厅", "the family withdrew"))
    [sent] = await staged(desk.runtime, "transfer.step_decided")
    assert (sent.payload["decided_unit"], sent.payload["intervention"]) == ("province:41", True)
    assert sent.payload["decision"] == "reject"


async def test_a_settled_step_voids_only_that_steps_task(make_desk: MakeDesk) -> None:
    """The late school decided after all: the county's intervention task for that step is void;
    its own task for the next step of the same transfer stays open."""
    desk = await make_desk()
    school_step = step("sending_school")
    await deliver(
        desk.runtime,
        overdue(school_step, "sending_school", f"school:{PRIMARY}"),
        source=NATIONAL,
        target=COUNTY,
    )
    own_step = step("sending_authority", transfer_id=school_step.transfer_id)
    await deliver(desk.runtime, own_step, source=NATIONAL, target=COUNTY)
    settled = TransferStepSettled(
        transfer_id=school_step.transfer_id,
        step_id=school_step.step_id,
        decision="approve",
        decided_unit=f"school:{PRIMARY}",
        intervention=False,
    )
    await deliver(desk.runtime, settled, source=NATIONAL, target=COUNTY)

    by_kind = {t.kind: t.status for t in await tasks(desk, ZHONGYUAN)}
    assert by_kind == {TaskKind.TRANSFER_INTERVENTION: "void", TaskKind.TRANSFER_STEP: "open"}


async def test_only_the_superior_may_intervene(make_desk: MakeDesk) -> None:
    county = await make_desk()
    opened = step("sending_school")
    for party in (f"school:{JINSHUI_PRIMARY}", "county:410102", "nonsense"):
        with pytest.raises(PermanentMessageError):
            await deliver(
                county.runtime,
                overdue(opened, "sending_school", party),
                source=NATIONAL,
                target=COUNTY,
            )
    assert await tasks(county, ZHONGYUAN) == []


async def test_a_closed_transfer_voids_its_open_tasks(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    opened = step()
    await deliver(desk.runtime, opened, source=NATIONAL, target=COUNTY)
    late = overdue(step("sending_school"), "sending_school", f"school:{PRIMARY}")
    late = late.model_copy(update={"transfer_id": opened.transfer_id})
    await deliver(desk.runtime, late, source=NATIONAL, target=COUNTY)
    other = step()
    await deliver(desk.runtime, other, source=NATIONAL, target=COUNTY)

    closed = TransferClosed(
        transfer_id=opened.transfer_id,
        outcome="rejected",
        reason="the receiving county rejected",
        rule="authority_rejected",
    )
    await deliver(desk.runtime, closed, source=NATIONAL, target=COUNTY)

    by_transfer = {(t.transfer_id, t.kind): t for t in await tasks(desk, ZHONGYUAN)}
    for kind in (TaskKind.TRANSFER_STEP, TaskKind.TRANSFER_INTERVENTION):
        task = by_transfer[(opened.transfer_id, kind)]
        assert task.status == TaskStatus.VOID and task.decided_by == "system"
        assert task.reason is not None and task.reason.startswith("transfer rejected")
        with pytest.raises(Conflict):
            await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    assert by_transfer[(other.transfer_id, TaskKind.TRANSFER_STEP)].status == TaskStatus.OPEN
    assert await staged(desk.runtime, "transfer.step_decided") == []


async def test_overdue_tasks_are_listed_and_counted_per_unit(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk()
    register_task_gauge(desk)
    await deliver(desk.runtime, step(due_on=date(2026, 9, 4)), source=NATIONAL, target=COUNTY)
    await deliver(desk.runtime, step(), source=NATIONAL, target=COUNTY)
    await deliver(
        desk.runtime, step("receiving_authority"), source=NATIONAL, target=RECEIVING_COUNTY
    )

    late = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery(overdue=True))
    assert late.total == 1 and late.items[0].due_on == date(2026, 9, 4)
    assert late.items[0].overdue

    metrics = (await desk.runtime.metrics.render()).decode()
    for unit_ref, kind, state, value in [
        ("county:410102", "transfer_step", "open", 2),
        ("county:410102", "transfer_step", "overdue", 1),
        ("county:410105", "transfer_step", "open", 1),
        ("county:410105", "transfer_step", "overdue", 0),
        ("county:410102", "registration_batch", "open", 0),  # every kind shows, at 0
    ]:
        line = f'xueji_desk_tasks{{kind="{kind}",state="{state}",unit="{unit_ref}"}} {value}.0'
        assert line in metrics, metrics
