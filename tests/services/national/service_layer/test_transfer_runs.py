"""Decisions applied as a run (the consumer hands national every consecutive
``transfer.step_decided`` of a delivery batch at once): the same outcome as one by one, two
decisions on one transfer in a run, an ignored repeat amid others, a run that cannot apply,
and a number of statements that does not grow with the run (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.national.domain.transfer import Step
from shared.contracts.transfer import TransferStepDecided
from shared.db.engine import SessionFactory
from shared.db.testing import recorded_statements
from shared.federation.config import UnitRef
from shared.messaging.envelope import Contract, Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    NationalDriver,
    decision,
    enrol,
    of_type,
    transfer_request,
)

Run = list[tuple[Contract, UnitRef]]
# What differs between two transfers decided alike: ids, the student, timestamps.
_OWN = {"transfer_id", "step_id", "student_number", "student", "basic", "completed_at"}


async def started(national: NationalDriver, name: str, decided: int = 0) -> Envelope:
    """A transfer of a new student (``name``) with its first ``decided`` steps approved;
    returns the ``transfer.step_opened`` of its open step."""
    [opened] = await national.request(transfer_request(await enrol(national, name=name)))
    for _ in range(decided):
        [opened] = of_type(await national.decide(opened), "transfer.step_opened")
    return opened


def on_step(transfer_id: str, step: Step, *, approve: bool = True) -> tuple[Contract, UnitRef]:
    """A decision by the step's party, for a step not yet announced (still pending)."""
    payload = TransferStepDecided(
        transfer_id=uuid.UUID(transfer_id),
        step_id=uuid.UUID(step.step_id),
        decision="approve" if approve else "reject",
        decided_by="王老师",
        decided_unit=step.party_unit,
    )
    return payload, UnitRef.parse(step.party_unit)


def alike(envelopes: list[Envelope]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.type, str(e.target), {k: v for k, v in e.payload.items() if k not in _OWN})
        for e in envelopes
    ]


async def states(national: NationalDriver, opened: Envelope) -> tuple[str, list[str]]:
    stored = await national.transfer(opened.payload["transfer_id"])
    return stored.saga.state, [s.state for s in stored.saga.steps]


async def mixed(national: NationalDriver, prefix: str) -> list[tuple[Envelope, bool]]:
    """Three transfers and what to decide on their open step: approve the first step (the
    next opens), approve the last one (the transfer completes), reject (it closes)."""
    return [
        (await started(national, f"{prefix}甲"), True),
        (await started(national, f"{prefix}乙", decided=3), True),
        (await started(national, f"{prefix}丙"), False),
    ]


async def test_a_run_ends_as_the_same_decisions_one_by_one(national: NationalDriver) -> None:
    alone, together = await mixed(national, "张"), await mixed(national, "李")

    one_by_one = [m for opened, yes in alone for m in await national.decide(opened, approve=yes)]
    run = await national.deliver_run([decision(opened, approve=yes) for opened, yes in together])

    assert alike(run) == alike(one_by_one)
    assert [e.type for e in run] == [
        "transfer.step_opened",
        *["transfer.completed"] * 3,  # two schools, one province (Henan to Henan)
        *["transfer.closed"] * 2,
    ]
    for (a, _), (b, _) in zip(alone, together, strict=True):
        assert await states(national, a) == await states(national, b)
    completed = of_type(run, "transfer.completed")[0].payload["student_number"]
    entry = await national.entry(completed)
    assert (entry.school_code, entry.active_transfer_id) == ("4101050001", None)
    rejected = await national.transfer(together[2][0].payload["transfer_id"])
    assert (await national.entry(rejected.record.student_number)).active_transfer_id is None


async def test_two_decisions_on_one_transfer_in_a_run_both_apply(
    national: NationalDriver,
) -> None:
    opened = await started(national, "王")
    transfer_id = opened.payload["transfer_id"]
    steps = (await national.transfer(transfer_id)).saga.steps

    run = await national.deliver_run([decision(opened), on_step(transfer_id, steps[1])])

    assert [(e.type, str(e.target)) for e in run] == [
        ("transfer.step_opened", steps[1].party_unit),
        ("transfer.step_opened", steps[2].party_unit),
    ]
    assert await states(national, opened) == (
        "in_progress", ["approved", "approved", "open", "pending"],
    )  # fmt: skip


async def test_every_step_of_a_transfer_in_one_run_completes_it(national: NationalDriver) -> None:
    opened = await started(national, "赵")
    transfer_id = opened.payload["transfer_id"]
    steps = (await national.transfer(transfer_id)).saga.steps

    run = await national.deliver_run([on_step(transfer_id, step) for step in steps])

    assert [e.type for e in run].count("transfer.completed") == 3
    assert await states(national, opened) == ("completed", ["approved"] * 4)
    number = of_type(run, "transfer.completed")[0].payload["student_number"]
    assert (await national.entry(number)).school_code == "4101050001"


async def test_a_repeat_in_a_run_is_ignored_and_the_others_apply(
    national: NationalDriver,
) -> None:
    first, repeated, last = [await started(national, n) for n in ("甲", "乙", "丙")]
    await national.decide(repeated)

    run = await national.deliver_run(
        [decision(first), decision(repeated, approve=False), decision(last, approve=False)]
    )

    assert [e.type for e in run] == ["transfer.step_opened", "transfer.closed", "transfer.closed"]
    assert (await states(national, first))[1][:2] == ["approved", "open"]
    assert (await states(national, repeated))[1][:2] == ["approved", "open"]
    assert await states(national, last) == ("rejected", ["rejected", "void", "void", "void"])


async def test_a_run_with_a_decision_that_can_never_apply_fails_whole(
    national: NationalDriver,
) -> None:
    """The consumer then applies each message alone: the others apply, that one is
    dead-lettered (a run of one, as every other test here shows)."""
    good, pending = await started(national, "甲"), await started(national, "乙")
    never_opened = on_step(
        pending.payload["transfer_id"],
        (await national.transfer(pending.payload["transfer_id"])).saga.steps[1],
    )
    unknown, sender = decision(good)
    unknown = unknown.model_copy(update={"transfer_id": uuid.uuid4()})

    with pytest.raises(PermanentMessageError, match="never opened"):
        await national.deliver_run([decision(good), never_opened])
    with pytest.raises(PermanentMessageError, match="no transfer"):
        await national.deliver_run([decision(good), (unknown, sender)])

    assert (await states(national, good))[1][0] == "open"  # nothing of the run was written
    with pytest.raises(PermanentMessageError, match="never opened"):
        await national.deliver_run([never_opened])


async def test_a_runs_statements_do_not_grow_with_its_length(
    national: NationalDriver, sessions: SessionFactory
) -> None:
    short = await mixed(national, "孙")
    long = await mixed(national, "周") + await mixed(national, "吴")

    with recorded_statements(sessions.kw["bind"]) as for_three:
        await national.deliver_run([decision(opened, approve=yes) for opened, yes in short])
    with recorded_statements(sessions.kw["bind"]) as for_six:
        await national.deliver_run([decision(opened, approve=yes) for opened, yes in long])

    # the driver's two outbox reads, 3 reads (transfers, steps, entries), 5 writes (transfers,
    # steps, release, move, outbox); the transaction's BEGIN/COMMIT are not cursor executions
    assert len(for_six) == len(for_three) <= 10, for_six
