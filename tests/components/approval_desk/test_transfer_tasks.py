"""The authority's part in transfers against a real database (SQLite and PostgreSQL): its own
steps as tasks with due dates, interventions for late parties it supervises, reminders, void
tasks when a transfer ends elsewhere, the decisions it sends national, and its task gauge."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from components.approval_desk.role import RegistryAuthority
from sqlalchemy import MetaData

from components.approval_desk import decisions, messages, queries
from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus
from components.approval_desk.metrics import register_task_gauge
from components.approval_desk.schemas import TaskListQuery, TaskRead
from components.approval_desk.tables import define_authority_tables
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

MakeAuthority = Callable[..., Awaitable[RegistryAuthority]]


@pytest.fixture
async def make_authority(tmp_path: Path, database_url: str) -> AsyncIterator[MakeAuthority]:
    """The role on a county or province runtime, today pinned, with tables of its own."""
    built: list[RegistryAuthority] = []

    async def make(tier: Tier = Tier.COUNTY, instance: str = "county-41") -> RegistryAuthority:
        config = federation_copy(tmp_path / f"federation-{len(built)}")
        settings = settings_for(config, instance, database_url, DEFAULT_AMQP_URL)
        handlers = HandlerRegistry()
        runtime = build_runtime(tier, settings.model_copy(update={"today": TODAY}), handlers)
        metadata = MetaData()
        authority = RegistryAuthority(runtime, define_authority_tables(metadata))
        async with runtime.engine.begin() as connection:
            await connection.run_sync(kernel_metadata.create_all, checkfirst=True)
            await connection.run_sync(list_version_metadata.create_all, checkfirst=True)
            await connection.run_sync(metadata.create_all, checkfirst=True)
        messages.register(handlers, authority)
        built.append(authority)
        return authority

    yield make
    for authority in built:
        await authority.runtime.engine.dispose()


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
        }
    )


async def tasks(authority: RegistryAuthority, code: str, **query: Any) -> list[TaskRead]:
    page = await queries.list_tasks(authority, code, TaskListQuery(**query))
    return [await queries.read_task(authority, str(t.task_id)) for t in page.items]


async def test_an_authority_step_becomes_a_task_with_its_due_date_and_proof_links(
    make_authority: MakeAuthority,
) -> None:
    authority = await make_authority()
    opened = step()
    envelope = await deliver(authority.runtime, opened, source=NATIONAL, target=COUNTY)
    await deliver(authority.runtime, opened, source=NATIONAL, target=COUNTY)  # redelivered

    [task] = await tasks(authority, ZHONGYUAN)
    assert (task.kind, task.status, task.school_code) == (TaskKind.TRANSFER_STEP, "open", PRIMARY)
    assert (task.due_on, task.due_approximate, task.overdue) == (opened.due_on, False, False)
    assert task.transfer_id == opened.transfer_id and task.subject_id == opened.step_id
    assert task.transfer is not None
    assert (task.transfer.role, task.transfer.student.name) == ("sending_authority", "张三")
    assert (task.transfer.from_school, task.transfer.to_school) == (PRIMARY, JINSHUI_PRIMARY)
    [proof] = task.transfer.proofs
    assert proof.url.startswith("http://127.0.0.1:")
    assert proof.url.endswith(f"/api/v1/transfers/{opened.transfer_id}/proofs/0")

    await decisions.decide(authority, str(task.task_id), Decision(DecisionKind.APPROVE, "王科员"))
    [sent] = await staged(authority.runtime, "transfer.step_decided")
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
        await decisions.decide(
            authority, str(task.task_id), Decision(DecisionKind.REJECT, "李科员", "no")
        )


async def test_the_receiving_authority_rejects_with_a_reason(make_authority: MakeAuthority) -> None:
    authority = await make_authority()
    opened = step("receiving_authority")
    await deliver(authority.runtime, opened, source=NATIONAL, target=RECEIVING_COUNTY)
    [task] = await tasks(authority, JINSHUI)
    assert task.school_code == JINSHUI_PRIMARY

    rejection = Decision(DecisionKind.REJECT, "赵科员", reason="no seat in grade 3")
    await decisions.decide(authority, str(task.task_id), rejection)
    [sent] = await staged(authority.runtime, "transfer.step_decided")
    assert (sent.payload["decision"], sent.payload["reason"]) == ("reject", "no seat in grade 3")
    assert sent.payload["decided_unit"] == "county:410105"
    assert (await tasks(authority, JINSHUI))[0].status == TaskStatus.REJECTED


@pytest.mark.parametrize(
    ("role", "target"),
    [
        ("receiving_authority", COUNTY),  # the receiving school's authority is 410105
        ("sending_authority", RECEIVING_COUNTY),
        ("sending_school", COUNTY),  # a school's own step
        ("sending_province", COUNTY),  # a province's step
    ],
)
async def test_a_step_of_another_party_is_dead_lettered(
    make_authority: MakeAuthority, role: str, target: Any
) -> None:
    authority = await make_authority()
    with pytest.raises(PermanentMessageError):
        await deliver(authority.runtime, step(role), source=NATIONAL, target=target)
    assert await tasks(authority, target.code) == []


async def test_a_reminder_is_noted_on_the_task(make_authority: MakeAuthority) -> None:
    authority = await make_authority()
    opened = step()
    await deliver(authority.runtime, opened, source=NATIONAL, target=COUNTY)
    reminder = TransferStepReminder(
        transfer_id=opened.transfer_id,
        step_id=opened.step_id,
        role="sending_authority",
        due_on=opened.due_on,
        working_days_left=3,
    )
    await deliver(authority.runtime, reminder, source=NATIONAL, target=COUNTY)
    assert (await tasks(authority, ZHONGYUAN))[0].reminded_at is not None


async def test_the_county_intervenes_for_its_late_school(make_authority: MakeAuthority) -> None:
    """HA art. 11(三): the superior decides a late party's step on its behalf."""
    authority = await make_authority()
    opened = step("sending_school")
    late = overdue(opened, "sending_school", f"school:{PRIMARY}")
    envelope = await deliver(authority.runtime, late, source=NATIONAL, target=COUNTY)
    await deliver(authority.runtime, late, source=NATIONAL, target=COUNTY)

    [task] = await tasks(authority, ZHONGYUAN)
    assert (task.kind, task.status, task.overdue) == (
        TaskKind.TRANSFER_INTERVENTION,
        "open",
        True,
    )
    assert task.due_on == date(2026, 9, 4)
    assert task.transfer is not None and task.transfer.late_party == f"school:{PRIMARY}"
    assert task.transfer.role == "sending_school"

    await decisions.decide(authority, str(task.task_id), Decision(DecisionKind.APPROVE, "王科员"))
    [sent] = await staged(authority.runtime, "transfer.step_decided")
    assert sent.correlation_id == envelope.correlation_id
    assert (sent.payload["step_id"], sent.payload["intervention"]) == (str(opened.step_id), True)
    assert sent.payload["decided_unit"] == "county:410102"


async def test_the_province_intervenes_for_its_late_county(make_authority: MakeAuthority) -> None:
    authority = await make_authority(Tier.PROVINCE, "province-41")
    opened = step("receiving_authority")
    late = overdue(opened, "receiving_authority", f"county:{JINSHUI}")
    await deliver(authority.runtime, late, source=NATIONAL, target=HENAN)
    [task] = await tasks(authority, "41")
    assert task.kind == TaskKind.TRANSFER_INTERVENTION and task.school_code == JINSHUI_PRIMARY
    await decisions.decide(
        authority, str(task.task_id), Decision(DecisionKind.REJECT, "省厅", "the family withdrew")
    )
    [sent] = await staged(authority.runtime, "transfer.step_decided")
    assert (sent.payload["decided_unit"], sent.payload["intervention"]) == ("province:41", True)
    assert sent.payload["decision"] == "reject"


async def test_a_settled_step_voids_only_that_steps_task(make_authority: MakeAuthority) -> None:
    """The late school decided after all: the county's intervention task for that step is void;
    its own task for the next step of the same transfer stays open."""
    authority = await make_authority()
    school_step = step("sending_school")
    await deliver(
        authority.runtime,
        overdue(school_step, "sending_school", f"school:{PRIMARY}"),
        source=NATIONAL,
        target=COUNTY,
    )
    own_step = step("sending_authority", transfer_id=school_step.transfer_id)
    await deliver(authority.runtime, own_step, source=NATIONAL, target=COUNTY)
    settled = TransferStepSettled(
        transfer_id=school_step.transfer_id,
        step_id=school_step.step_id,
        decision="approve",
        decided_unit=f"school:{PRIMARY}",
        intervention=False,
    )
    await deliver(authority.runtime, settled, source=NATIONAL, target=COUNTY)

    by_kind = {t.kind: t.status for t in await tasks(authority, ZHONGYUAN)}
    assert by_kind == {TaskKind.TRANSFER_INTERVENTION: "void", TaskKind.TRANSFER_STEP: "open"}


async def test_only_the_superior_may_intervene(make_authority: MakeAuthority) -> None:
    county = await make_authority()
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


async def test_a_closed_transfer_voids_its_open_tasks(make_authority: MakeAuthority) -> None:
    authority = await make_authority()
    opened = step()
    await deliver(authority.runtime, opened, source=NATIONAL, target=COUNTY)
    late = overdue(step("sending_school"), "sending_school", f"school:{PRIMARY}")
    late = late.model_copy(update={"transfer_id": opened.transfer_id})
    await deliver(authority.runtime, late, source=NATIONAL, target=COUNTY)
    other = step()
    await deliver(authority.runtime, other, source=NATIONAL, target=COUNTY)

    closed = TransferClosed(
        transfer_id=opened.transfer_id,
        outcome="rejected",
        reason="the receiving county rejected",
        rule="authority_rejected",
    )
    await deliver(authority.runtime, closed, source=NATIONAL, target=COUNTY)

    by_transfer = {(t.transfer_id, t.kind): t for t in await tasks(authority, ZHONGYUAN)}
    for kind in (TaskKind.TRANSFER_STEP, TaskKind.TRANSFER_INTERVENTION):
        task = by_transfer[(opened.transfer_id, kind)]
        assert task.status == TaskStatus.VOID and task.decided_by == "system"
        assert task.reason is not None and task.reason.startswith("transfer rejected")
        with pytest.raises(Conflict):
            await decisions.decide(
                authority, str(task.task_id), Decision(DecisionKind.APPROVE, "王科员")
            )
    assert by_transfer[(other.transfer_id, TaskKind.TRANSFER_STEP)].status == TaskStatus.OPEN
    assert await staged(authority.runtime, "transfer.step_decided") == []


async def test_overdue_tasks_are_listed_and_counted_per_unit(
    make_authority: MakeAuthority,
) -> None:
    authority = await make_authority()
    register_task_gauge(authority)
    await deliver(authority.runtime, step(due_on=date(2026, 9, 4)), source=NATIONAL, target=COUNTY)
    await deliver(authority.runtime, step(), source=NATIONAL, target=COUNTY)
    await deliver(
        authority.runtime, step("receiving_authority"), source=NATIONAL, target=RECEIVING_COUNTY
    )

    late = await queries.list_tasks(authority, ZHONGYUAN, TaskListQuery(overdue=True))
    assert late.total == 1 and late.items[0].due_on == date(2026, 9, 4)
    assert late.items[0].overdue

    metrics = (await authority.runtime.metrics.render()).decode()
    for unit_ref, state, value in [
        ("county:410102", "open", 2),
        ("county:410102", "overdue", 1),
        ("county:410105", "open", 1),
        ("county:410105", "overdue", 0),
    ]:
        line = f'xueji_authority_tasks{{state="{state}",unit="{unit_ref}"}} {value}.0'
        assert line in metrics, metrics
