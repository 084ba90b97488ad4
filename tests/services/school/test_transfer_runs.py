"""``transfer.completed`` at the schools, a run at a time (SQLite and PostgreSQL): a run of one
delivery batch, mixing the instance's schools and the receiving and sending roles, ends as the
same completions applied one by one, and runs a number of statements that does not grow with
its length."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from components.approval_desk.repository import TASK_LIST
from services.school.adapters.orm import departure, desk_tables, student, transfer_in
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import TransferCompleted
from shared.db import list_versions
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL
from shared.messaging.envelope import Contract, build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.testing import InProcessDelivery
from shared.resident_id import student_number_for
from tests.components.approval_desk.support import basic as other_school_basic
from tests.services.school.transfer_support import (
    HANGZHOU_PRIMARY,
    JINSHUI_PRIMARY,
    ZHONGYUAN_PRIMARY,
    School,
    completed_at,
    proof,
    school_ref,
    school_service,
    step_opened,
    summary,
)

ZHONGYUAN, JINSHUI = ZHONGYUAN_PRIMARY, JINSHUI_PRIMARY  # both hosted by school-41


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> AsyncIterator[School]:
    async with school_service(tmp_path / "federation", database_url) as service:
        yield service


def number_of(info: BasicInfo) -> str:
    return student_number_for(info.id_number or "")


def completion(
    transfer_id: uuid.UUID,
    info: BasicInfo,
    from_school: str,
    to_school: str,
    *,
    class_name: str | None = "三年级2班",
    with_basic: bool = True,
) -> TransferCompleted:
    return TransferCompleted(
        transfer_id=transfer_id,
        student_number=number_of(info),
        from_school=from_school,
        to_school=to_school,
        grade=3,
        class_name=class_name,
        completed_at=completed_at(),
        archive_due_on=date(2026, 10, 10),
        student=summary(info, grade=3),
        basic=info if with_basic else None,
    )


async def requested(school: School, info: BasicInfo, from_school: str, to_school: str) -> uuid.UUID:
    """A transfer in the receiving school asked for (pending, placed in 三年级1班)."""
    response = await school.post_transfer_in(
        to_school,
        student_number=number_of(info),
        from_school=from_school,
        grade=3,
        class_name="三年级1班",
        reason="the family moved",
        proofs=[proof()],
    )
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["transfer_id"])


async def deliver_run(school: School, messages: Sequence[tuple[Contract, str]]) -> None:
    """Apply ``messages`` (each to a school of the instance) as one delivery batch."""
    delivery = InProcessDelivery(school.runtime.sessions, school.runtime.handlers)
    envelopes = [
        build_envelope(payload, source=NATIONAL, target=school_ref(code))
        for payload, code in messages
    ]
    await delivery.apply(envelopes)


async def deliver_one_by_one(school: School, messages: Sequence[tuple[Contract, str]]) -> None:
    for payload, code in messages:
        await school.deliver(payload, code)


@dataclass
class Scenario:
    """Completions of every kind a run can hold, for fresh students, and how to name the
    students and transfers in an outcome (so that two scenarios' outcomes compare)."""

    messages: list[tuple[Contract, str]]
    students: dict[str, str]  # student number → label
    transfers: dict[str, str]  # transfer id → label


async def scenario(school: School) -> Scenario:
    """- ``a``: 中原 → 金水, asked for by 金水 (placed in 三年级1班; the completion names
      no class), 中原 has the step open: both schools hear the completion; 中原 hears it twice
    - ``b``: 金水 → 中原, the other way, asked for by 中原; 金水's step open
    - ``c``: from a school of another instance into 金水, not asked for here, no basic info
    - ``d``: leaves 中原 for 金水 and comes back in the same run (four messages)
    - ``e``: 中原 → 杭州 (another instance), the student no longer on 中原's roster"""
    a = await school.enrol(ZHONGYUAN, grade=3, birth_date=date(2017, 5, 1))
    b = await school.enrol(JINSHUI, grade=3, birth_date=date(2017, 6, 1))
    c = other_school_basic(grade=3)
    d = await school.enrol(ZHONGYUAN, grade=3, birth_date=date(2017, 7, 1))
    e = other_school_basic(grade=3)
    transfer_a = await requested(school, a, ZHONGYUAN, JINSHUI)
    transfer_b = await requested(school, b, JINSHUI, ZHONGYUAN)
    transfer_c, d_out, d_back, transfer_e = (uuid.uuid4() for _ in range(4))
    await school.deliver(step_opened(a, transfer_id=transfer_a), ZHONGYUAN)
    await school.deliver(
        step_opened(b, from_school=JINSHUI, to_school=ZHONGYUAN, transfer_id=transfer_b), JINSHUI
    )
    a_done = completion(transfer_a, a, ZHONGYUAN, JINSHUI, class_name=None)
    b_done = completion(transfer_b, b, JINSHUI, ZHONGYUAN)
    c_done = completion(transfer_c, c, HANGZHOU_PRIMARY, JINSHUI, with_basic=False)
    d_leaves = completion(d_out, d, ZHONGYUAN, JINSHUI)
    d_returns = completion(d_back, d, JINSHUI, ZHONGYUAN)
    e_done = completion(transfer_e, e, ZHONGYUAN, HANGZHOU_PRIMARY)
    messages: list[tuple[Contract, str]] = [
        (a_done, JINSHUI),
        (b_done, JINSHUI),
        (d_leaves, ZHONGYUAN),
        (a_done, ZHONGYUAN),
        (c_done, JINSHUI),
        (d_leaves, JINSHUI),
        (b_done, ZHONGYUAN),
        (d_returns, JINSHUI),
        (a_done, ZHONGYUAN),  # heard again
        (e_done, ZHONGYUAN),
        (d_returns, ZHONGYUAN),
    ]
    labelled = zip("abcde", (a, b, c, d, e), strict=True)
    students = {number_of(info): label for label, info in labelled}
    transfers = {
        str(transfer_id): label
        for label, transfer_id in (
            ("a", transfer_a),
            ("b", transfer_b),
            ("c", transfer_c),
            ("d_out", d_out),
            ("d_back", d_back),
            ("e", transfer_e),
        )
    }
    return Scenario(messages, students, transfers)


async def outcome(school: School, named: Scenario) -> dict[str, Any]:
    """What the scenario's completions left at both schools, students and transfers named by
    their labels: the rosters, the history lists, the transfers in and the step tasks."""
    numbers, transfer_ids = list(named.students), list(named.transfers)
    skip = {"id", "student_number", "registration_id", "id_number", "name", "birth_date"}
    skip |= {"created_at", "updated_at"}  # when it ran
    task = desk_tables.task
    async with school.runtime.sessions() as session:
        roster = await session.execute(select(student).where(student.c.student_number.in_(numbers)))
        history = await session.execute(
            select(departure).where(departure.c.student_number.in_(numbers))
        )
        transfers_in = await session.execute(
            select(transfer_in).where(transfer_in.c.transfer_id.in_(transfer_ids))
        )
        tasks = await session.execute(
            select(task).where(task.c.transfer_id.in_([uuid.UUID(t) for t in transfer_ids]))
        )
    return {
        "roster": sorted(
            (
                named.students[r.student_number],
                r.school_code,
                *((k, v) for k, v in r._asdict().items() if k not in skip),
            )
            for r in roster
        ),
        "history": sorted(
            (
                named.students[r.student_number],
                r.school_code,
                named.transfers[r.subject_id],
                r.kind,
                r.to_school,
                r.grade,
                r.left_on,
            )
            for r in history
        ),
        "transfers_in": sorted(
            (named.transfers[r.transfer_id], r.school_code, r.status, r.settled_at is not None)
            for r in transfers_in
        ),
        "tasks": sorted(
            (named.transfers[str(r.transfer_id)], str(r.unit), r.status, r.reason, r.decided_by)
            for r in tasks
        ),
    }


async def task_list_versions(school: School) -> list[int]:
    async with school.runtime.sessions() as session:
        return [
            await list_versions.version(session, TASK_LIST, str(school_ref(code)))
            for code in (ZHONGYUAN, JINSHUI)
        ]


async def test_a_run_ends_as_its_completions_applied_one_by_one(school: School) -> None:
    one_by_one = await scenario(school)
    await deliver_one_by_one(school, one_by_one.messages)
    expected = await outcome(school, one_by_one)

    as_a_run = await scenario(school)
    before = await task_list_versions(school)
    await deliver_run(school, as_a_run.messages)
    found = await outcome(school, as_a_run)

    assert found == expected
    # what one by one gives, in the first place (the time stamps are the pinned clock's)
    roster = {(r[0], r[1]): dict(r[2:]) for r in found["roster"]}
    assert {key: (r["status"], r["class_name"]) for key, r in roster.items()} == {
        ("a", ZHONGYUAN): ("transferred_out", None),
        ("a", JINSHUI): ("enrolled", "三年级1班"),  # the class the request placed
        ("b", JINSHUI): ("transferred_out", None),
        ("b", ZHONGYUAN): ("enrolled", "三年级2班"),
        ("c", JINSHUI): ("enrolled", "三年级2班"),
        ("d", ZHONGYUAN): ("enrolled", "三年级2班"),  # left and came back: its old entry
        ("d", JINSHUI): ("transferred_out", None),
    }
    assert roster[("c", JINSHUI)]["id_type"] == "resident_id"
    assert [h[:3] for h in found["history"]] == [
        ("a", ZHONGYUAN, "a"),
        ("b", JINSHUI, "b"),
        ("d", ZHONGYUAN, "d_out"),
        ("d", JINSHUI, "d_back"),
    ]
    assert found["transfers_in"] == [
        ("a", JINSHUI, "completed", True),
        ("b", ZHONGYUAN, "completed", True),
    ]
    assert [t[:3] for t in found["tasks"]] == [
        ("a", f"school:{ZHONGYUAN}", "void"),
        ("b", f"school:{JINSHUI}", "void"),
    ]
    assert all(t[3].startswith("transfer completed") for t in found["tasks"])
    # both schools' task lists changed: their polled versions moved
    after = await task_list_versions(school)
    assert all(a > b for a, b in zip(after, before, strict=True))

    # heard again, ``d``'s too (back at 中原 since, by a transfer 中原 did not ask for), the
    # run changes nothing
    await deliver_run(school, as_a_run.messages)
    assert await outcome(school, as_a_run) == found
    assert await task_list_versions(school) == after


async def test_a_completion_for_a_school_no_party_to_it_fails_the_run(school: School) -> None:
    """The consumer then applies the run's messages one by one and dead-letters that one;
    the run itself changes nothing."""
    info = await school.enrol(ZHONGYUAN, grade=3)
    transfer_id = uuid.uuid4()
    done = completion(transfer_id, info, ZHONGYUAN, HANGZHOU_PRIMARY)
    elsewhere = completion(uuid.uuid4(), other_school_basic(), HANGZHOU_PRIMARY, ZHONGYUAN)
    to_itself = completion(uuid.uuid4(), other_school_basic(), JINSHUI, JINSHUI)
    for wrong in ((elsewhere, JINSHUI), (to_itself, JINSHUI)):
        with pytest.raises(PermanentMessageError):
            await deliver_run(school, [(done, ZHONGYUAN), wrong])
    named = Scenario([], {number_of(info): "s"}, {str(transfer_id): "t"})
    unchanged = await outcome(school, named)
    assert (unchanged["history"], roster_status(unchanged)) == ([], "enrolled")
    await deliver_run(school, [(done, ZHONGYUAN)])
    left = await outcome(school, named)
    assert (len(left["history"]), roster_status(left)) == (1, "transferred_out")


async def test_a_completion_re_sent_after_the_student_came_back_changes_nothing(
    school: School,
) -> None:
    """中原 → 金水, then back 金水 → 中原, each asked for by its receiving school; then the
    first completion again under a new message id (an operator's ``xueji-ops resend``): 中原
    keeps the student it has back, 金水 does not enrol again the student it saw leave, and
    neither school fails the message."""
    info = await school.enrol(ZHONGYUAN, grade=3)
    there = await requested(school, info, ZHONGYUAN, JINSHUI)
    await school.deliver(step_opened(info, transfer_id=there), ZHONGYUAN)
    went = completion(there, info, ZHONGYUAN, JINSHUI)
    await deliver_one_by_one(school, [(went, JINSHUI), (went, ZHONGYUAN)])
    back = await requested(school, info, JINSHUI, ZHONGYUAN)
    await school.deliver(
        step_opened(info, from_school=JINSHUI, to_school=ZHONGYUAN, transfer_id=back), JINSHUI
    )
    returned = completion(back, info, JINSHUI, ZHONGYUAN, class_name="三年级3班")
    await deliver_one_by_one(school, [(returned, ZHONGYUAN), (returned, JINSHUI)])
    named = Scenario([], {number_of(info): "s"}, {str(there): "there", str(back): "back"})
    settled = await outcome(school, named)
    roster = {r[1]: dict(r[2:]) for r in settled["roster"]}
    assert {code: (r["status"], r["class_name"]) for code, r in roster.items()} == {
        ZHONGYUAN: ("enrolled", "三年级3班"),
        JINSHUI: ("transferred_out", None),
    }

    for resent in ([(went, ZHONGYUAN)], [(went, JINSHUI)], [(went, JINSHUI), (went, ZHONGYUAN)]):
        await deliver_one_by_one(school, resent)  # each a new envelope: a new message id
        await deliver_run(school, resent)
        assert await outcome(school, named) == settled
    assert sorted(h[1:3] for h in settled["history"]) == sorted(
        [(ZHONGYUAN, "there"), (JINSHUI, "back")]
    )


def roster_status(found: dict[str, Any]) -> str:
    [entry] = found["roster"]
    return str(dict(entry[2:])["status"])


async def completions(school: School, size: int) -> list[tuple[Contract, str]]:
    """``size`` completions (a multiple of 3) to both schools, as receiving and as sending
    school: per transfer 中原 → 金水 asked for by 金水 (with 中原's step open) both schools
    hear it, and 中原 hears one from another instance it did not ask for."""
    messages: list[tuple[Contract, str]] = []
    for _ in range(size // 3):
        info = await school.enrol(ZHONGYUAN, grade=3)
        transfer_id = await requested(school, info, ZHONGYUAN, JINSHUI)
        await school.deliver(step_opened(info, transfer_id=transfer_id), ZHONGYUAN)
        done = completion(transfer_id, info, ZHONGYUAN, JINSHUI)
        arriving = completion(uuid.uuid4(), other_school_basic(), HANGZHOU_PRIMARY, ZHONGYUAN)
        messages += [(done, JINSHUI), (done, ZHONGYUAN), (arriving, ZHONGYUAN)]
    return messages


async def test_a_runs_statements_do_not_grow_with_its_length(school: School) -> None:
    counted = []
    for size in (3, 30):
        messages = await completions(school, size)
        with recorded_statements(school.runtime.engine) as sent:
            await deliver_run(school, messages)
        counted.append(len(sent))
    of_three, of_thirty = counted
    assert of_three == of_thirty, counted
