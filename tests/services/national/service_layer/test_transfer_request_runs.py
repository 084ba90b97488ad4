"""Transfer requests applied as a run (the consumer hands national every consecutive
``transfer.requested`` of a delivery batch at once): the same rows and messages as one by
one, whatever the run mixes (a refusal, a transfer id seen before or twice, two requests for
one student, a closed school, a student named by a number since replaced); two concurrent
runs sharing a student start it once; and a number of statements that does not grow with
the run (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from services.national.adapters.orm import RegistryEntry
from shared.contracts.decider import Decider
from shared.contracts.merger import SchoolMerged
from shared.contracts.students import IdType
from shared.contracts.transfer import TransferRequested
from shared.db.engine import SessionFactory
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.handlers import HandlerContext
from tests.services.national.builders import (
    SCHOOL,
    NationalDriver,
    basic,
    batch,
    key_change,
    outcomes_of,
    resident_id,
    transfer_request,
)
from tests.services.national.service_layer.test_transfers import held_back

CLOSED_SCHOOL = "4101020003"  # a primary school of the sending school's county, merged here
Run = list[tuple[Contract, UnitRef]]
# What differs between two transfers requested alike: ids, the student, the refusal's number.
_OWN = {"transfer_id", "step_id", "student_number", "student"}


async def close_school(national: NationalDriver, code: str = CLOSED_SCHOOL) -> None:
    merged = SchoolMerged(
        merger_id=uuid.uuid4(),
        from_school=code,
        to_school=SCHOOL,
        kind="merged",
        closed_on=date(2026, 9, 7),
        decider=Decider(account="zhao.yunwei", unit="county:410102"),
    )
    await national.deliver(merged, source=UnitRef(tier=Tier.COUNTY, code="410102"))


async def enrol_many(national: NationalDriver, names: list[str]) -> list[str]:
    """Register one student per name at ``SCHOOL`` in one batch; their numbers, in order."""
    born = date(2018, 3, 14)
    envelopes = await national.deliver(batch(*(basic(name, birth=born) for name in names)))
    outcomes = outcomes_of(envelopes[0])
    assert [o["outcome"] for o in outcomes] == ["issued"] * len(names), outcomes
    return [o["student_number"] for o in outcomes]


async def replaced_number(national: NationalDriver, name: str) -> tuple[str, str]:
    """A student registered with an ``L`` number that a resident ID replaced since:
    ``(the old L number, the G number)``."""
    born = date(2018, 3, 14)
    envelopes = await national.deliver(batch(basic(name, "female", born, id_type=IdType.NONE)))
    l_number = outcomes_of(envelopes[0])[0]["student_number"]
    new_id = resident_id(born, "female")
    await national.deliver(key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id))
    return l_number, f"G{new_id}"


def sent(request: TransferRequested) -> tuple[Contract, UnitRef]:
    """The request as the receiving school sends it."""
    return request, UnitRef(tier=Tier.SCHOOL, code=request.to_school)


@dataclass
class Mixed:
    """Requests mixing every outcome, and the student each one names."""

    run: list[TransferRequested]
    students: list[str]  # the current number of each request's student


async def mixed(national: NationalDriver, prefix: str) -> Mixed:
    """A good request; a refused one (grade change); a transfer id answered before; two
    requests for one student; a repeat of the first in the run; a closed receiving school,
    then the same student to an open one; a student by the G number, then by the L number
    it replaced; an unknown student."""
    good, refused, before, twice, moving = await enrol_many(
        national, [f"{prefix}{given}" for given in ("一", "二", "三", "四", "五")]
    )
    l_number, g_number = await replaced_number(national, f"{prefix}六")
    answered = transfer_request(before)
    await national.request(answered)
    unknown = f"G{resident_id(date(2018, 5, 1), 'male')}"
    first = transfer_request(good)
    run = [
        first,
        transfer_request(refused, grade=2),
        answered,
        transfer_request(twice),
        transfer_request(twice),
        first,
        transfer_request(moving, to_school=CLOSED_SCHOOL),
        transfer_request(moving),
        transfer_request(g_number),
        transfer_request(l_number),
        transfer_request(unknown),
    ]
    students = [good, refused, before, twice, twice, good, moving, moving, g_number, g_number]
    return Mixed(run, [*students, unknown])


def alike(envelopes: list[Envelope]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.type, str(e.target), {k: v for k, v in e.payload.items() if k not in _OWN})
        for e in envelopes
    ]


async def rows(national: NationalDriver, mixed: Mixed) -> list[tuple[Any, ...]]:
    """Per request: its transfer as stored (state, rule, steps), and whether it is the one
    that holds its student."""
    async with national.sessions() as session:
        query = select(RegistryEntry.student_number, RegistryEntry.active_transfer_id).where(
            RegistryEntry.student_number.in_(mixed.students)
        )
        holders = {number: holder for number, holder in await session.execute(query)}
    found = []
    for request, student in zip(mixed.run, mixed.students, strict=True):
        stored = await national.transfer(request.transfer_id)
        saga = stored.saga
        holds = holders.get(student) == str(request.transfer_id)
        found.append((saga.state, saga.closing_rule, [s.state for s in saga.steps], holds))
    return found


async def test_a_mixed_run_ends_as_the_same_requests_one_by_one(national: NationalDriver) -> None:
    await close_school(national)
    alone, together = await mixed(national, "张"), await mixed(national, "李")

    one_by_one = [m for request in alone.run for m in await national.request(request)]
    run = await national.deliver_run([sent(request) for request in together.run])

    assert alike(run) == alike(one_by_one)
    assert [(e.type, e.payload.get("rule")) for e in run] == [
        ("transfer.step_opened", None),
        ("transfer.refused", "grade_change"),
        ("transfer.step_opened", None),
        ("transfer.refused", "transfer_in_progress"),
        ("transfer.refused", "school_closed"),
        ("transfer.step_opened", None),
        ("transfer.step_opened", None),  # by the G number …
        ("transfer.refused", "transfer_in_progress"),  # … then by the L number it replaced
        ("transfer.refused", "not_at_sending_school"),
    ]
    assert await rows(national, together) == await rows(national, alone)
    assert [e.payload["student_number"] for e in run if e.type == "transfer.step_opened"] == [
        together.students[i] for i in (0, 3, 7, 8)
    ]


async def test_two_concurrent_runs_sharing_a_student_start_it_once(
    national: NationalDriver,
) -> None:
    """The first run has claimed its students but not committed when the second starts: on
    PostgreSQL the second's claim waits for the shared student's row lock, then skips that
    row and claims the other; on SQLite it waits for the writer."""
    first_only, shared, second_only = await enrol_many(national, ["甲一", "甲二", "甲三"])
    first = [transfer_request(first_only), transfer_request(shared)]
    second = [transfer_request(shared), transfer_request(second_only)]
    envelopes = [build_envelope(r, source=sent(r)[1], target=NATIONAL) for r in first]
    many = national.handlers.many("transfer.requested", 1)
    assert many is not None

    async with national.sessions() as session:
        async with session.begin():
            await many([HandlerContext(session, e) for e in envelopes], first)
            racing = asyncio.create_task(national.deliver_run([sent(r) for r in second]))
            await held_back(racing, national.sessions)
        staged = await racing

    assert [(e.type, e.payload.get("rule")) for e in staged] == [
        ("transfer.refused", "transfer_in_progress"),
        ("transfer.step_opened", None),
    ]
    holders = [(await national.entry(n)).active_transfer_id for n in (shared, second_only)]
    assert holders == [str(first[1].transfer_id), str(second[1].transfer_id)]


async def test_a_runs_statements_do_not_grow_with_its_length(
    national: NationalDriver, sessions: SessionFactory
) -> None:
    """Two that start and one refused (an unknown student), ten times over."""
    numbers = await enrol_many(national, [f"孙{n:02d}" for n in range(22)])

    def triple(a: str, b: str) -> Run:
        unknown = f"G{resident_id(date(2018, 5, 1), 'male')}"
        return [sent(transfer_request(n)) for n in (a, b, unknown)]

    short = triple(*numbers[:2])
    long = [m for i in range(2, 22, 2) for m in triple(*numbers[i : i + 2])]

    with recorded_statements(sessions.kw["bind"]) as for_three:
        three = await national.deliver_run(short)
    with recorded_statements(sessions.kw["bind"]) as for_thirty:
        thirty = await national.deliver_run(long)

    assert [e.type for e in thirty] == [e.type for e in three] * 10
    # the inbox; 4 reads (transfer ids, entries, closures, the claim's UPDATE … RETURNING);
    # 3 writes (transfers, steps, outbox); BEGIN/COMMIT are not cursor executions
    assert len(for_thirty) == len(for_three) <= 8, for_thirty
