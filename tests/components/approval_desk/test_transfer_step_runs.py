"""National's ``transfer.step_opened`` applied set-based at a desk, on SQLite and PostgreSQL: a
run of a delivery batch (mixing the units the instance hosts, with redelivered steps) opens the
tasks one message at a time would, with what the policy adds and decides, in a fixed number of
statements whatever the run's length."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from components.approval_desk.desk import ApprovalDesk, KindPolicy
from components.approval_desk.domain import SYSTEM, Decision, DecisionKind, TaskKind
from shared.contracts.transfer import TransferStepOpened
from shared.db.list_versions import list_version
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL, UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from shared.messaging.testing import InProcessDelivery
from tests.components.approval_desk.support import staged
from tests.components.approval_desk.test_transfer_tasks import (
    COUNTY,
    RECEIVING_COUNTY,
    MakeDesk,
    step,
)


class NotesAndApproves(KindPolicy):
    """A policy with a say: a fact per message (its unit and student), and the receiving
    county's steps approved at once by the system."""

    async def facts(self, ctx: HandlerContext, opened: Contract) -> Mapping[str, Any]:
        assert isinstance(opened, TransferStepOpened)
        return {"noted": f"{ctx.unit} {opened.student_number} {opened.step_id}"}

    async def decide_at_once(self, ctx: HandlerContext, opened: Contract) -> Decision | None:
        assert isinstance(opened, TransferStepOpened)
        if opened.role != "receiving_authority":
            return None
        return Decision(DecisionKind.APPROVE, SYSTEM, reason=f"seat kept for {opened.step_id}")


def sent(opened: TransferStepOpened, target: UnitRef) -> Envelope:
    """National's message (a redelivery is another envelope of the same step)."""
    return build_envelope(opened, source=NATIONAL, target=target)


async def apply_at_once(desk: ApprovalDesk, envelopes: Sequence[Envelope]) -> int:
    """One delivery batch: one transaction, the run handed to the set-based handler."""
    delivery = InProcessDelivery(desk.runtime.sessions, desk.runtime.handlers)
    return (await delivery.apply(envelopes)).applied


async def apply_one_by_one(desk: ApprovalDesk, envelopes: Sequence[Envelope]) -> None:
    for envelope in envelopes:
        await apply_at_once(desk, [envelope])


async def task_rows(desk: ApprovalDesk) -> list[dict[str, Any]]:
    """Every task, comparable across databases: without its own id and moments, the proofs'
    links without the receiving school's host (each desk's federation has its own ports)."""
    async with desk.runtime.sessions() as session:
        rows = (await session.execute(select(desk.tables.task))).mappings().all()
    kept = []
    for row in rows:
        task = {k: v for k, v in row.items() if k not in ("task_id", "opened_at", "decided_at")}
        proofs = [{**p, "url": urlsplit(p["url"]).path} for p in task["details"]["proofs"]]
        task["details"] = {**task["details"], "proofs": proofs}
        kept.append(task)
    return sorted(kept, key=repr)


async def versions(desk: ApprovalDesk) -> dict[str, int]:
    async with desk.runtime.sessions() as session:
        rows = (await session.execute(select(list_version.c.scope, list_version.c.version))).all()
    return {scope: version for scope, version in rows}


async def decided(desk: ApprovalDesk) -> list[tuple[Any, ...]]:
    """The decisions staged, in order, with what ties each to its step's message."""
    return [
        (e.target, e.source, e.correlation_id, e.causation_id, e.payload)
        for e in await staged(desk.runtime, "transfer.step_decided")
    ]


async def test_a_run_opens_the_tasks_one_by_one_would(
    make_desk: MakeDesk, other_database_url: str
) -> None:
    """Two counties' steps in one run, one of them redelivered after it opened its task and
    one twice in the run: the same tasks, facts, at-once decisions (staged in delivery order)
    as one message at a time; each county's list version moves once for the run."""
    policies = {TaskKind.TRANSFER_STEP: NotesAndApproves()}
    at_once = await make_desk(policies=policies)
    alone = await make_desk(url=other_database_url, policies=policies)
    earlier = sent(step(), COUNTY)
    mine = [step() for _ in range(3)]
    theirs = [step("receiving_authority") for _ in range(2)]
    run = [
        sent(mine[0], COUNTY),
        sent(theirs[0], RECEIVING_COUNTY),
        sent(TransferStepOpened.model_validate(earlier.payload), COUNTY),  # redelivered
        sent(mine[1], COUNTY),
        sent(theirs[1], RECEIVING_COUNTY),
        sent(mine[0], COUNTY),  # twice in the run
        sent(mine[2], COUNTY),
    ]
    for desk in (at_once, alone):
        await apply_at_once(desk, [earlier])
    before = await versions(at_once)

    assert await apply_at_once(at_once, run) == len(run)
    await apply_one_by_one(alone, run)

    rows = await task_rows(at_once)
    assert rows == await task_rows(alone)
    assert len(rows) == 6
    for row in rows:
        assert row["details"]["noted"].split() == [
            str(row["unit"]),
            row["details"]["student_number"],
            row["details"]["step_id"],
        ]
    by_status = sorted((str(r["unit"]), r["status"]) for r in rows)
    assert by_status == [("county:410102", "open")] * 4 + [("county:410105", "approved")] * 2
    assert await decided(at_once) == await decided(alone)
    assert [d[4]["step_id"] for d in await decided(at_once)] == [str(s.step_id) for s in theirs]
    assert await versions(at_once) == {
        scope: version + 1 for scope, version in {**before, "county:410105": 0}.items()
    }

    await apply_at_once(at_once, [sent(mine[1], COUNTY), sent(theirs[0], RECEIVING_COUNTY)])
    assert await task_rows(at_once) == rows  # a run of redeliveries opens nothing
    assert len(await decided(at_once)) == 2


async def test_a_step_of_another_party_fails_its_run(make_desk: MakeDesk) -> None:
    """The sender's step must be the addressed unit's: the run fails as a whole, nothing of
    it stays (the consumer then applies each message alone, dead-lettering that one)."""
    desk = await make_desk()
    run = [sent(step(), COUNTY), sent(step("sending_authority"), RECEIVING_COUNTY)]
    with pytest.raises(PermanentMessageError, match="is not county:410105's"):
        await apply_at_once(desk, run)
    assert await task_rows(desk) == []
    await apply_at_once(desk, run[:1])
    assert len(await task_rows(desk)) == 1


async def test_the_statements_of_a_run_do_not_grow_with_its_length(make_desk: MakeDesk) -> None:
    """The same statements for a run of 3 as of 30 (two counties, a redelivery in each)."""
    desk = await make_desk()
    counted: list[list[str]] = []
    for size in (3, 30):
        redelivered = step()
        await apply_at_once(desk, [sent(redelivered, COUNTY)])
        run = [sent(redelivered, COUNTY)]
        run += [sent(step(), COUNTY) for _ in range(size // 2)]
        run += [sent(step("receiving_authority"), RECEIVING_COUNTY) for _ in range(size - len(run))]
        with recorded_statements(desk.runtime.engine) as statements:
            await apply_at_once(desk, run)
        counted.append(statements)
    assert len(await task_rows(desk)) == 3 + 30
    of_3, of_30 = counted
    assert len(of_3) == len(of_30), (of_3, of_30)
