"""The desk role against a real database (SQLite and PostgreSQL): tasks as data, automatic
approval under province rules, officers' decisions and the messages they cause."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from components.approval_desk import messages, queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus
from components.approval_desk.repository import TASK_LIST, TaskRepository
from components.approval_desk.schemas import DecisionCreate, TaskListQuery
from components.approval_desk.tables import define_desk_tables
from devtools.testing import federation_copy
from shared.clock import Clock
from shared.contracts.registration import KeyFieldChanges, ProofDocument, SubmittedItem
from shared.contracts.students import IdType
from shared.db import list_versions
from shared.db.list_versions import list_version_metadata
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.tables import kernel_metadata
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.runtime.service import build_runtime
from shared.runtime.settings import DEFAULT_AMQP_URL
from tests.components.approval_desk.support import (
    HANGZHOU_SCHOOL,
    PRIMARY,
    PROVINCE_DIRECT,
    ZHONGYUAN,
    basic,
    batch,
    decide,
    deliver,
    key_field_change,
    payloads,
    settings_for,
    staged,
    unit,
)

COUNTY = unit(Tier.COUNTY, ZHONGYUAN)
HENAN = unit(Tier.PROVINCE, "41")
SCHOOL = unit(Tier.SCHOOL, PRIMARY)
AUTO_APPROVE_HENAN = {"41": {"registration": {"auto_approve": True}}}

MakeDesk = Callable[..., Awaitable[ApprovalDesk]]


@pytest.fixture
async def make_desk(tmp_path: Path, database_url: str) -> AsyncIterator[MakeDesk]:
    """Build the role on a tier's runtime with tables of its own (no tier's schema)."""
    built: list[ApprovalDesk] = []

    async def make(
        tier: Tier = Tier.COUNTY, instance: str = "county-41", rules: dict[str, Any] | None = None
    ) -> ApprovalDesk:
        config = federation_copy(tmp_path / f"federation-{len(built)}", rules=rules)
        handlers = HandlerRegistry()
        settings = settings_for(config, instance, database_url, DEFAULT_AMQP_URL)
        runtime = build_runtime(tier, settings, handlers)
        metadata = MetaData()
        desk = ApprovalDesk(runtime, define_desk_tables(metadata))
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


async def only_task(desk: ApprovalDesk, unit_code: str = ZHONGYUAN) -> Any:
    page = await queries.list_tasks(desk, desk.unit(unit_code), TaskListQuery())
    assert page.total == 1
    return await queries.read_task(desk, page.items[0].task_id)


async def test_a_batch_opens_a_task_where_the_province_approves_by_hand(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk()
    submitted = batch(size=3)
    await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
    assert (task.kind, task.status, task.item_count) == (TaskKind.REGISTRATION_BATCH, "open", 3)
    assert task.authority_unit == "county:410102" and task.school_code == PRIMARY
    assert task.subject_id == submitted.batch_id and task.finding_count == 0
    assert [i.registration_id for i in task.items] == [i.registration_id for i in submitted.items]
    assert task.items[0].basic == submitted.items[0].basic
    assert await staged(desk.runtime) == []


async def test_a_clean_batch_is_approved_at_once_under_auto_approval(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk(rules=AUTO_APPROVE_HENAN)
    submitted = batch(size=2)
    envelope = await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
    assert (task.status, task.decided_by) == ("approved", "system")
    assert {i.status for i in task.items} == {"approved"}
    [approved] = await staged(desk.runtime)
    assert approved.type == "registration.batch_approved" and approved.target == NATIONAL
    assert approved.source == COUNTY and approved.correlation_id == envelope.correlation_id
    assert approved.payload["authority"] == "county:410102"
    assert len(approved.payload["items"]) == 2
    assert "extended" not in approved.payload["items"][0]


async def test_auto_approval_is_per_province(make_desk: MakeDesk) -> None:
    """Zhejiang's rules do not apply to a Henan county."""
    desk = await make_desk(rules={"33": {"registration": {"auto_approve": True}}})
    await deliver(desk.runtime, batch(), source=SCHOOL, target=COUNTY)
    assert (await only_task(desk)).status == "open"


async def test_a_batch_with_findings_waits_for_an_officer_even_under_auto_approval(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk(rules=AUTO_APPROVE_HENAN)
    twin = basic()
    await deliver(desk.runtime, batch(PRIMARY, twin, twin, basic()), source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
    assert (task.status, task.finding_count) == ("open", 2)
    assert [f.rule for f in task.items[0].findings] == ["duplicate_in_batch"]
    assert task.items[2].findings == []
    assert await staged(desk.runtime) == []


@pytest.mark.parametrize(
    ("school", "county"),
    [(HANGZHOU_SCHOOL, ZHONGYUAN), (PROVINCE_DIRECT, "410105"), ("4101029999", ZHONGYUAN)],
    ids=["other-province", "province-direct", "unknown-school"],
)
async def test_a_batch_from_a_school_the_authority_does_not_govern_is_dead_lettered(
    make_desk: MakeDesk, school: str, county: str
) -> None:
    desk = await make_desk()
    with pytest.raises(PermanentMessageError) as refused:
        await deliver(
            desk.runtime,
            batch(school),
            source=unit(Tier.SCHOOL, school),
            target=unit(Tier.COUNTY, county),
        )
    assert school in refused.value.reason
    assert (await queries.list_tasks(desk, desk.unit(county), TaskListQuery())).total == 0


async def test_the_province_governs_its_direct_schools(make_desk: MakeDesk) -> None:
    desk = await make_desk(Tier.PROVINCE, "province-41")
    await deliver(
        desk.runtime,
        batch(PROVINCE_DIRECT),
        source=unit(Tier.SCHOOL, PROVINCE_DIRECT),
        target=HENAN,
    )
    task = await only_task(desk, "41")
    assert task.authority_unit == "province:41" and task.school_code == PROVINCE_DIRECT
    with pytest.raises(PermanentMessageError):
        await deliver(desk.runtime, batch(PRIMARY), source=SCHOOL, target=HENAN)


async def test_a_resubmitted_batch_opens_no_second_task(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    submitted = batch()
    await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)
    await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)
    assert (await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery())).total == 1


async def test_approval_with_some_items_rejected(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    submitted = batch(size=3)
    envelope = await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    kept, dropped = submitted.items[0::2], submitted.items[1]

    decision = DecisionCreate(
        decision="approve",
        rejected_items=[{"registration_id": dropped.registration_id, "reason": "not enrolled"}],
    )
    await decide(desk, task.task_id, decision.to_domain("王科员"))

    task = await queries.read_task(desk, task.task_id)
    assert (task.status, task.decided_by) == ("approved", "王科员")
    assert [i.status for i in task.items] == ["approved", "rejected", "approved"]
    assert task.items[1].reason == "not enrolled"
    sent = await staged(desk.runtime)
    assert {e.correlation_id for e in sent} == {envelope.correlation_id}
    [approved] = payloads(sent, NATIONAL)
    approved_ids = [i["registration_id"] for i in approved["items"]]
    assert approved_ids == [str(i.registration_id) for i in kept]
    for target in (SCHOOL, HENAN):
        [decided] = payloads(sent, target)
        assert decided["decided_by"] == "county:410102"
        assert decided["outcomes"] == [
            {
                "registration_id": str(dropped.registration_id),
                "outcome": "rejected",
                "student_number": None,
                "reason": "not enrolled",
                "rule": "authority_rejected",
            }
        ]


async def test_rejecting_a_batch_rejects_every_item(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    submitted = batch(size=2)
    await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)
    task = await only_task(desk)

    decision = Decision(DecisionKind.REJECT, "王科员", reason="false information")
    await decide(desk, task.task_id, decision)

    task = await queries.read_task(desk, task.task_id)
    assert (task.status, task.reason) == ("rejected", "false information")
    assert {i.status for i in task.items} == {"rejected"}
    sent = await staged(desk.runtime)
    assert payloads(sent, NATIONAL) == []
    assert {e.type for e in sent} == {"registration.batch_decided"}
    assert {e.target for e in sent} == {SCHOOL, HENAN}
    outcomes = payloads(sent, SCHOOL)[0]["outcomes"]
    assert {o["reason"] for o in outcomes} == {"false information"}


async def test_deciding_a_decided_task_is_a_conflict(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    await deliver(desk.runtime, batch(), source=SCHOOL, target=COUNTY)
    task_id = str((await only_task(desk)).task_id)
    await decide(desk, task_id, Decision(DecisionKind.APPROVE, "王科员"))

    with pytest.raises(Conflict):
        await decide(desk, task_id, Decision(DecisionKind.REJECT, "李科员", "no"))
    assert len(await staged(desk.runtime)) == 1  # only the first decision's message


async def test_refused_and_unknown_decisions(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    await deliver(desk.runtime, batch(size=1), source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    only = task.items[0].registration_id

    with pytest.raises(DomainError) as refused:
        await decide(
            desk,
            task.task_id,
            Decision(DecisionKind.APPROVE, "王科员", rejected_items={only: "no"}),
        )
    assert refused.value.rule == "every_item_rejected"
    with pytest.raises(NotFound):
        await decide(
            desk,
            "00000000-0000-0000-0000-000000000000",
            Decision(DecisionKind.APPROVE, "王科员"),
        )
    assert (await queries.read_task(desk, task.task_id)).status == "open"


async def test_a_key_field_change_always_waits_for_an_officer(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk(rules=AUTO_APPROVE_HENAN)
    change = key_field_change()
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
    assert (task.kind, task.status) == (TaskKind.KEY_FIELD_CHANGE, TaskStatus.OPEN)
    assert task.key_field_change is not None
    assert task.key_field_change.student_number == change.student_number
    assert task.key_field_change.changes.name == "张三丰"
    proofs = [(p.index, p.filename, p.kind) for p in task.proofs]
    assert proofs == [(0, "户口本.pdf", "hukou_proof")]
    proof = await queries.read_proof(desk, task.task_id, 0)
    assert proof.content == b"%PDF-1.4 proof"

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [approved] = await staged(desk.runtime)
    assert approved.type == "key_field_change.approved" and approved.target == NATIONAL
    assert approved.payload["changes"]["name"] == "张三丰"
    # references only (the school keeps the files): no content, no file name at national
    assert approved.payload["proofs"] == [{"index": 0, "kind": "hukou_proof"}]
    assert "户口本" not in json.dumps(approved.payload, ensure_ascii=False)
    assert "content_base64" not in json.dumps(approved.payload)


async def test_a_rejected_key_field_change_goes_back_to_school_and_province(
    make_desk: MakeDesk,
) -> None:
    desk = await make_desk()
    change = key_field_change()
    change = change.model_copy(
        update={"changes": change.changes.model_copy(update={"id_type": IdType.RESIDENT_ID})}
    )
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    assert task.finding_count == 1  # a resident ID type without a number

    await decide(desk, task.task_id, Decision(DecisionKind.REJECT, "王科员", "proof unreadable"))
    sent = await staged(desk.runtime)
    assert {e.target for e in sent} == {SCHOOL, HENAN}
    decided = sent[0].payload
    assert (decided["outcome"], decided["rule"], decided["reason"]) == (
        "rejected",
        "authority_rejected",
        "proof unreadable",
    )
    assert decided["decided_by"] == "county:410102"


async def test_an_approved_hukou_place_change_is_decided_here_and_never_reaches_national(
    make_desk: MakeDesk,
) -> None:
    """The hukou place is non-basic (decision 0043): the officer's approval is the decision,
    sent to the school and its province with the proofs' references."""
    desk = await make_desk()
    change = key_field_change().model_copy(
        update={"changes": KeyFieldChanges(), "hukou_region": "410105"}
    )
    await deliver(desk.runtime, change, source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    assert task.finding_count == 0
    assert task.key_field_change is not None and task.key_field_change.hukou_region == "410105"

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    sent = await staged(desk.runtime)
    assert {e.target for e in sent} == {SCHOOL, HENAN}  # not NATIONAL
    decided = sent[0].payload
    assert (decided["outcome"], decided["hukou_region"]) == ("applied", "410105")
    assert decided["decider"]["account"] == "王科员"
    assert decided["proofs"] == [{"index": 0, "kind": "hukou_proof"}]


async def test_task_list_filters_and_pages_oldest_first(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    for _ in range(3):
        await deliver(desk.runtime, batch(size=1), source=SCHOOL, target=COUNTY)
    await deliver(desk.runtime, key_field_change(), source=SCHOOL, target=COUNTY)
    everything = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery())
    first = everything.items[0].task_id
    await decide(desk, first, Decision(DecisionKind.APPROVE, "王科员"))

    opened = [t.opened_at for t in everything.items]
    assert opened == sorted(opened) and everything.total == 4
    page = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery(limit=2, offset=1))
    assert [t.task_id for t in page.items] == [t.task_id for t in everything.items[1:3]]
    assert page.total == 4
    open_batches_query = TaskListQuery(status=TaskStatus.OPEN, kind=TaskKind.REGISTRATION_BATCH)
    open_batches = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), open_batches_query)
    assert open_batches.total == 2
    assert (await queries.list_tasks(desk, desk.unit("410105"), TaskListQuery())).total == 0


async def test_the_queue_filters_by_school_and_sorts_by_due_date(make_desk: MakeDesk) -> None:
    """An officer's queue: one school's tasks only (``school``), and the earliest due date
    first with the tasks that have none (registration batches) after them (``order=due``)."""
    desk = await make_desk()
    other = "4101020002"
    await deliver(desk.runtime, batch(size=1), source=SCHOOL, target=COUNTY)
    await deliver(
        desk.runtime, batch(other, size=1), source=unit(Tier.SCHOOL, other), target=COUNTY
    )
    await deliver(
        desk.runtime, batch(other, size=1), source=unit(Tier.SCHOOL, other), target=COUNTY
    )
    everything = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery())
    # two of the other school's tasks get due dates, the later one on the older task
    later, earlier = [t.task_id for t in everything.items if t.school_code == other]
    async with desk.runtime.sessions() as session, session.begin():
        table = desk.tables.task
        for task_id, due in ((later, date(2026, 9, 20)), (earlier, date(2026, 9, 10))):
            await session.execute(
                table.update().where(table.c.task_id == task_id).values(due_on=due)
            )

    only_other = TaskListQuery(school=other)
    found = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), only_other)
    assert {t.school_code for t in found.items} == {other} and found.total == 2
    by_due = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery(order="due"))
    assert [t.task_id for t in by_due.items][:2] == [earlier, later]
    assert by_due.items[2].school_code == PRIMARY and by_due.items[2].due_on is None
    one_school_by_due = TaskListQuery(school=other, order="due", status=TaskStatus.OPEN)
    found = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), one_school_by_due)
    assert [t.task_id for t in found.items] == [earlier, later]
    none = await queries.list_tasks(desk, desk.unit(ZHONGYUAN), TaskListQuery(school="4101020003"))
    assert none.total == 0


async def test_every_write_of_a_task_changes_its_units_list_version(
    make_desk: MakeDesk,
) -> None:
    """Each kind of task write bumps the unit's task list version once, at commit (decision
    0020); a write that changes nothing, a rolled back one and another unit's leave it."""
    desk = await make_desk()
    now = desk.now()

    other = unit(Tier.COUNTY, "410105")

    def ids(name: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, name)

    async def version(of: UnitRef = COUNTY) -> int:
        async with desk.runtime.sessions() as session:
            return await list_versions.version(session, TASK_LIST, str(of))

    async def write(change: Callable[[TaskRepository], Awaitable[object]]) -> int:
        async with desk.runtime.sessions() as session, session.begin():
            await change(desk.tasks(session))
        return await version()

    def task(name: str, owner: UnitRef = COUNTY) -> dict[str, Any]:
        return {
            "task_id": ids(name),
            "kind": TaskKind.TRANSFER_STEP,
            "status": TaskStatus.OPEN,
            "unit": owner,
            "school_code": PRIMARY,
            "subject_id": ids(f"step-{name}"),
            "item_count": 0,
            "finding_count": 0,
            "details": {},
            "opened_at": now,
            "correlation_id": ids(name),
            "message_id": ids(name),
            "transfer_id": ids(f"transfer-{name}"),
        }

    def void_step(name: str) -> Callable[[TaskRepository], Awaitable[object]]:
        return lambda tasks: tasks.void_step(
            COUNTY, ids(f"step-{name}"), at=now, by="s", reason="r"
        )

    def close(tasks: TaskRepository) -> Awaitable[object]:
        return tasks.close(ids("t1"), TaskStatus.APPROVED, at=now, by="o", reason=None)

    def remind(tasks: TaskRepository) -> Awaitable[object]:
        return tasks.mark_reminded(COUNTY, ids("step-t1"), now)

    assert await version() == 0
    assert await write(lambda tasks: tasks.add(task("t1"))) == 1
    assert await write(lambda tasks: tasks.add(task("t2"))) == 2
    assert await write(remind) == 3
    assert await write(lambda tasks: tasks.replace_open_details(ids("t1"), {"note": "x"}, 1)) == 4
    assert await write(close) == 5
    # t1 is no longer open: closing it again, reminding or voiding it changes nothing.
    assert await write(close) == 5
    assert await write(remind) == 5
    assert await write(void_step("t1")) == 5
    assert await write(void_step("t2")) == 6
    assert await write(lambda tasks: tasks.add(task("t3"))) == 7
    transfer = ids("transfer-t3")
    assert (
        await write(lambda tasks: tasks.void_transfer(COUNTY, transfer, at=now, by="s", reason="r"))
        == 8
    )

    # Several writes in one transaction: one bump. Another unit's task: none here.
    async def two(tasks: TaskRepository) -> None:
        await tasks.add(task("t4"))
        await tasks.add(task("t5"))
        await tasks.add(task("t6", other))

    assert await write(two) == 9
    with pytest.raises(RuntimeError):
        async with desk.runtime.sessions() as session, session.begin():
            await desk.tasks(session).add(task("t7"))
            raise RuntimeError("rolled back")
    assert await version() == 9
    assert await version(other) == 1


async def test_a_runs_transfers_are_voided_together_pair_by_pair(make_desk: MakeDesk) -> None:
    """The many form of voiding a transfer's tasks: exactly the (unit, transfer) pairs given
    (another unit's task of the same transfer stays open), in one statement, with how many
    each pair had, and one list version bump per unit that changed."""
    desk = await make_desk()
    now = desk.now()
    other = unit(Tier.COUNTY, "410105")
    shared_transfer, own_transfer, untouched = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def task(owner: UnitRef, transfer_id: uuid.UUID) -> dict[str, Any]:
        return {
            "task_id": uuid.uuid4(),
            "kind": TaskKind.TRANSFER_STEP,
            "status": TaskStatus.OPEN,
            "unit": owner,
            "school_code": PRIMARY,
            "subject_id": uuid.uuid4(),
            "item_count": 0,
            "finding_count": 0,
            "details": {},
            "opened_at": now,
            "transfer_id": transfer_id,
        }

    rows = [
        task(COUNTY, shared_transfer),
        task(COUNTY, shared_transfer),  # a step task and an intervention
        task(other, shared_transfer),
        task(other, own_transfer),
        task(COUNTY, untouched),
    ]
    async with desk.runtime.sessions() as session, session.begin():
        for row in rows:
            await desk.tasks(session).add(row)

    async def versions() -> tuple[int, int]:
        async with desk.runtime.sessions() as session:
            return (
                await list_versions.version(session, TASK_LIST, str(COUNTY)),
                await list_versions.version(session, TASK_LIST, str(other)),
            )

    async def void(pairs: list[tuple[UnitRef, uuid.UUID]]) -> dict[Any, int]:
        async with desk.runtime.sessions() as session, session.begin():
            found = await desk.tasks(session).void_transfers(pairs, at=now, by="s", reason="r")
        return dict(found)

    before = await versions()
    pairs = [(COUNTY, shared_transfer), (other, own_transfer), (COUNTY, own_transfer)]
    assert await void(pairs) == {(COUNTY, shared_transfer): 2, (other, own_transfer): 1}
    assert await versions() == (before[0] + 1, before[1] + 1)
    assert await void(pairs) == {}  # heard again: nothing open, no bump
    assert await versions() == (before[0] + 1, before[1] + 1)
    async with desk.runtime.sessions() as session:
        statuses = {
            (t.unit, t.transfer_id, t.status)
            for t in (await desk.tasks(session).get_many([r["task_id"] for r in rows])).values()
        }
    assert statuses == {
        (COUNTY, shared_transfer, TaskStatus.VOID),
        (other, shared_transfer, TaskStatus.OPEN),
        (other, own_transfer, TaskStatus.VOID),
        (COUNTY, untouched, TaskStatus.OPEN),
    }


async def test_a_late_batch_waits_for_an_officer_even_under_auto_approval(
    make_desk: MakeDesk,
) -> None:
    """N2013 art. 7: a registration two months after enrolment is flagged, not accepted
    silently (see test_registration_timing.py for every timing and age rule)."""
    desk = await make_desk(rules={"41": {"registration": {"auto_approve": True}}})
    today = Clock().today()
    late = basic(birth=date(2015, 3, 1)).model_copy(
        update={"enrolled_on": today - timedelta(days=62)}
    )
    on_time = basic(birth=date(2015, 4, 1))
    await deliver(desk.runtime, batch(PRIMARY, late, on_time), source=SCHOOL, target=COUNTY)
    task = await only_task(desk)
    assert (task.status, task.finding_count) == ("open", 1)
    assert [f.rule for f in task.items[0].findings] == ["registered_late"]
    assert task.items[1].findings == []
    assert await staged(desk.runtime) == []


async def test_an_under_age_first_grader_waits_with_the_approval_it_carries(
    make_desk: MakeDesk,
) -> None:
    """HA art. 4: the school sends an under-age first-grader only with the proof; the task
    flags ``under_age``, lists the proof against the child's registration and serves it, and
    waits for an officer even where the province approves clean batches by itself."""
    desk = await make_desk(rules=AUTO_APPROVE_HENAN)
    today = Clock().today()
    young = basic(birth=date(today.year - 5, 6, 1), name="李小")
    submitted = batch(PRIMARY, young, basic())
    approval = ProofDocument(
        kind="early_admission_approval",
        filename="提前入学批准.pdf",
        content_base64=base64.b64encode(b"%PDF-1.4 approval").decode(),
    )
    first, second = submitted.items
    carrying = SubmittedItem(registration_id=first.registration_id, basic=young, proofs=(approval,))
    submitted = submitted.model_copy(update={"items": (carrying, second)})
    await deliver(desk.runtime, submitted, source=SCHOOL, target=COUNTY)

    task = await only_task(desk)
    assert (task.status, task.finding_count) == (TaskStatus.OPEN, 1)
    flagged, clean = task.items
    assert [f.rule for f in flagged.findings] == ["under_age"]
    assert "HA art. 4" in flagged.findings[0].message
    assert (flagged.proofs, clean.proofs) == ([0], [])
    assert [(p.index, p.kind, p.filename) for p in task.proofs] == [
        (0, "early_admission_approval", "提前入学批准.pdf")
    ]
    assert (await queries.read_proof(desk, task.task_id, 0)).content == b"%PDF-1.4 approval"

    await decide(desk, task.task_id, Decision(DecisionKind.APPROVE, "王科员"))
    [approved] = await staged(desk.runtime)
    assert approved.type == "registration.batch_approved"
    assert len(approved.payload["items"]) == 2
    assert all("proofs" not in i for i in approved.payload["items"])  # the desk keeps them
