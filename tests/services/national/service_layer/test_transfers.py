"""The transfer saga's handlers against a real national database (SQLite, PostgreSQL):
requests refused by each rule, the parties' order per province, completion, rejection,
cancellation, one active transfer per student, who may decide, and a status change midway."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from devtools.testing import federation_copy
from services.national.adapters.orm import TransferRecord
from services.national.adapters.transfer_repository import TransferRepository
from services.national.service_layer.transfers.closing import stop_active_transfer
from shared.contracts.students import IdType
from shared.contracts.transfer import TransferCancelRequested, TransferRequested
from shared.db.engine import SessionFactory
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import Envelope, build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from tests.services.national.builders import (
    HENAN_OTHER_COUNTY,
    OTHER_SCHOOL_SAME_COUNTY,
    PROVINCE_DIRECT_SCHOOL,
    SCHOOL,
    SICHUAN_OTHER_COUNTY,
    SICHUAN_SCHOOL,
    ZHEJIANG_OTHER_COUNTY,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    basic,
    batch,
    decision,
    enrol,
    key_change,
    of_type,
    origin_proof,
    outcomes_of,
    resident_id,
    targets,
    transfer_request,
)

HENAN_FLOW = [
    ("sending_province", "province:41", "national:CN"),
    ("receiving_authority", "county:410105", "province:41"),
    ("sending_school", "school:4101020001", "county:410102"),
    ("sending_authority", "county:410102", "province:41"),
]


def school(code: str) -> str:
    return str(UnitRef(tier=Tier.SCHOOL, code=code))


async def refused_with(national: NationalDriver, request: TransferRequested) -> tuple[str, str]:
    """Deliver ``request``; it must be refused (to the receiving school, nothing claimed)."""
    [answer] = await national.request(request)
    assert answer.type == "transfer.refused"
    assert str(answer.target) == school(request.to_school)
    assert answer.payload["transfer_id"] == str(request.transfer_id)
    stored = await national.transfer(request.transfer_id)
    assert stored.saga.state == "refused" and stored.saga.steps == []
    assert stored.record.closing_rule == answer.payload["rule"]
    return answer.payload["rule"], answer.payload["reason"]


async def held_back(task: asyncio.Task[list[Envelope]], sessions: SessionFactory) -> None:
    """Wait until ``task`` is blocked by the open transaction: on PostgreSQL until a query
    waits for a row lock; on SQLite (one connection) it cannot even start meanwhile."""
    if sessions.kw["bind"].dialect.name == "postgresql":
        deadline = asyncio.get_running_loop().time() + 10
        query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        while True:
            async with sessions() as probe:
                if await probe.scalar(query):
                    break
            assert asyncio.get_running_loop().time() < deadline, "never blocked"
            await asyncio.sleep(0.02)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()


async def approve_all(national: NationalDriver, envelopes: list[Envelope]) -> list[Envelope]:
    """Approve each step as it opens; returns the messages of the last decision."""
    while opened := of_type(envelopes, "transfer.step_opened"):
        envelopes = await national.decide(opened[0])
    return envelopes


# -- refusals ---------------------------------------------------------------------------------


async def test_an_unknown_student_or_one_registered_elsewhere_is_not_at_the_sending_school(
    national: NationalDriver,
) -> None:
    number = await enrol(national, OTHER_SCHOOL_SAME_COUNTY)
    assert await refused_with(national, transfer_request("G410102201803140000")) == (
        "not_at_sending_school", "no registration has this student number",
    )  # fmt: skip
    assert await refused_with(national, transfer_request(number)) == (
        "not_at_sending_school", "the student is not registered at school 4101020001",
    )  # fmt: skip


async def test_a_transfer_into_the_same_school_is_refused(national: NationalDriver) -> None:
    number = await enrol(national)
    rule, _ = await refused_with(national, transfer_request(number, SCHOOL, SCHOOL))
    assert rule == "same_school"


@pytest.mark.parametrize(
    ("school_code", "to", "reason"),
    [
        (SCHOOL, HENAN_OTHER_COUNTY, "Henan (HA art. 11(四))"),
        (ZHEJIANG_SCHOOL, ZHEJIANG_OTHER_COUNTY, "Zhejiang (ZJ art. 13)"),
        (SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY, "Liangshan (LS 2(一)6(4))"),
    ],
)
async def test_a_suspended_student_is_refused_by_the_sending_province(
    national: NationalDriver, school_code: str, to: str, reason: str
) -> None:
    number = await enrol(national, school_code)
    await national.set_status(number, "suspended")
    assert await refused_with(national, transfer_request(number, school_code, to)) == (
        "suspended",
        f"{reason}: no transfer while suspended",
    )


async def test_any_other_status_is_not_enrolled_and_so_is_suspension_where_allowed(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    lenient = federation_copy(
        tmp_path, rules={"41": {"transfer": {"refuse_when_suspended": False}}}
    )
    national = NationalDriver(sessions, config=lenient)
    graduated, suspended = await enrol(national, name="甲"), await enrol(national, name="乙")
    await national.set_status(graduated, "graduated")
    await national.set_status(suspended, "suspended")
    assert await refused_with(national, transfer_request(graduated)) == (
        "not_enrolled", "only an enrolled student transfers; this registration is graduated",
    )  # fmt: skip
    rule, _ = await refused_with(national, transfer_request(suspended))
    assert rule == "not_enrolled"


@pytest.mark.parametrize(
    ("to", "article"),
    [(HENAN_OTHER_COUNTY, "Henan (HA art. 11)"), (ZHEJIANG_SCHOOL, "Zhejiang (ZJ art. 13)")],
)
async def test_the_receiving_province_refuses_a_change_of_grade(
    national: NationalDriver, to: str, article: str
) -> None:
    number = await enrol(national, grade=3)
    assert await refused_with(national, transfer_request(number, to_school=to, grade=4)) == (
        "grade_change",
        f"{article}: a transfer may not change the grade "
        "(grade 4 requested, the student is in grade 3)",
    )


async def test_sichuan_refuses_to_send_a_graduating_year_student_but_henan_does_not(
    national: NationalDriver,
) -> None:
    sichuan = await enrol(national, SICHUAN_SCHOOL, grade=6, name="甲")
    request = transfer_request(sichuan, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY, grade=6)
    assert await refused_with(national, request) == (
        "graduating_year",
        "Liangshan (LS 2(一)6(3)): no transfer in the graduating year "
        "(grade 6 at a primary school)",
    )
    henan = await enrol(national, SCHOOL, grade=6, name="乙")
    envelopes = await national.request(transfer_request(henan, SCHOOL, SICHUAN_SCHOOL, grade=6))
    assert [e.type for e in envelopes] == ["transfer.step_opened"]
    assert uuid.UUID(envelopes[0].payload["step_id"]).version == 7  # time-ordered (0059)


async def test_liangshans_rules_apply_in_liangshan_only_not_to_all_of_sichuan(
    national: NationalDriver,
) -> None:
    """Decision 0034: LS 2(一)6(3) is scoped to prefecture 5134. A graduating-year pupil of
    Chengdu (510104, Sichuan outside Liangshan) transfers; one of Xichang (513401) does not."""
    chengdu = await enrol(national, SICHUAN_OTHER_COUNTY, grade=6, name="甲")
    request = transfer_request(chengdu, SICHUAN_OTHER_COUNTY, SICHUAN_SCHOOL, grade=6)
    envelopes = await national.request(request)
    assert [e.type for e in envelopes] == ["transfer.step_opened"]
    xichang = await enrol(national, SICHUAN_SCHOOL, grade=6, name="乙")
    request = transfer_request(xichang, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY, grade=6)
    rule, reason = await refused_with(national, request)
    assert (rule, reason.split(":")[0]) == ("graduating_year", "Liangshan (LS 2(一)6(3))")


YI_TRACK_JUNIOR = "5134010003"  # 凉山州民族中学: city-run, a Yi-track (一类模式) school


async def test_registration_at_a_yi_track_school_makes_a_yi_track_student(
    national: NationalDriver,
) -> None:
    """LS part 6: the student attribute comes from the school the student registers at."""
    track = await enrol(national, YI_TRACK_JUNIOR, grade=7, name="阿")
    other = await enrol(national, SICHUAN_SCHOOL, grade=7, name="吉")
    assert (await national.entry(track)).yi_track is True
    assert (await national.entry(other)).yi_track is False


async def test_no_transfer_into_the_yi_track_from_outside_it(national: NationalDriver) -> None:
    """LS 6 (严禁一类模式学校中途接收转入非一类模式学生学籍), LS 2(一)6(2): refused with its
    rule and article; a student of the track is received, and one leaves the track freely."""
    outsider = await enrol(national, SICHUAN_SCHOOL, grade=8, name="甲")
    request = transfer_request(outsider, SICHUAN_SCHOOL, YI_TRACK_JUNIOR, grade=8)
    rule, reason = await refused_with(national, request)
    assert rule == "yi_track_closed"
    assert reason.startswith("Liangshan (LS 6, LS 2(一)6(2)): a Yi-track (一类模式) school")

    insider = await enrol(national, SICHUAN_SCHOOL, grade=8, name="乙")
    async with national.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE registry_entry SET yi_track = :t WHERE student_number = :n"),
            {"t": True, "n": insider},
        )
    request = transfer_request(insider, SICHUAN_SCHOOL, YI_TRACK_JUNIOR, grade=8)
    assert [e.type for e in await national.request(request)] == ["transfer.step_opened"]

    leaving = await enrol(national, YI_TRACK_JUNIOR, grade=8, name="丙")
    request = transfer_request(leaving, YI_TRACK_JUNIOR, SICHUAN_OTHER_COUNTY, grade=8)
    assert [e.type for e in await national.request(request)] == ["transfer.step_opened"]


async def test_a_city_run_schools_transfer_is_decided_by_its_city(
    national: NationalDriver,
) -> None:
    """N2013 art. 3: the city running a school is its registry authority and its school's
    superior; the city's late step escalates to the province (decision 0034)."""
    number = await enrol(national, YI_TRACK_JUNIOR, grade=8, name="丁")
    request = transfer_request(number, YI_TRACK_JUNIOR, SICHUAN_OTHER_COUNTY, grade=8)
    assert await steps_of(national, request) == [
        ("sending_school", "school:5134010003", "city:5134"),
        ("sending_authority", "city:5134", "province:51"),
        ("receiving_authority", "county:510104", "province:51"),
    ]
    [opened] = await national.request(transfer_request(number, YI_TRACK_JUNIOR, SCHOOL, grade=8))
    assert opened.type == "transfer.refused"  # one transfer at a time; the first is claimed


async def test_outside_the_receiving_provinces_window_the_request_is_refused(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number, requested_on=date(2026, 6, 1))
    assert await refused_with(national, request) == (
        "transfer_window",
        "Henan (HA art. 11(三)): transfers are handled 09-01 to 10-31 (autumn term, first two "
        "months); 02-15 to 04-15 (spring term, first two months); requested on 2026-06-01",
    )


async def test_a_cross_province_transfer_follows_the_receiving_window_only(
    national: NationalDriver,
) -> None:
    # 2026-10-20 is outside Zhejiang's window, inside Henan's: Zhejiang → Henan proceeds,
    # Henan → Zhejiang is refused by Zhejiang's window (decision 0035)
    number = await enrol(national, ZHEJIANG_SCHOOL)
    into_henan = transfer_request(
        number, ZHEJIANG_SCHOOL, SCHOOL, requested_on=date(2026, 10, 20), proofs=(origin_proof(),)
    )
    [opened] = await national.request(into_henan)
    assert opened.type == "transfer.step_opened" and opened.payload["window_exception"] is None
    other = await enrol(national, HENAN_OTHER_COUNTY, name="李娜")
    into_zhejiang = transfer_request(
        other, HENAN_OTHER_COUNTY, ZHEJIANG_SCHOOL, requested_on=date(2026, 10, 20)
    )
    rule, reason = await refused_with(national, into_zhejiang)
    assert rule == "transfer_window"
    assert reason.startswith("Zhejiang (ZJ art. 13): transfers are handled 06-25 to 09-15")


async def test_outside_both_windows_the_receiving_authority_grants_an_exception(
    national: NationalDriver,
) -> None:
    # 2026-05-20: outside Henan's and Zhejiang's windows (no overlap at all)
    number = await enrol(national, ZHEJIANG_SCHOOL)
    request = transfer_request(
        number, ZHEJIANG_SCHOOL, SCHOOL, requested_on=date(2026, 5, 20), proofs=(origin_proof(),)
    ).model_copy(update={"window_exception_reason": "the father was posted to Zhengzhou"})
    envelopes = await national.request(request)
    [opened] = of_type(envelopes, "transfer.step_opened")
    assert opened.payload["role"] == "receiving_authority"
    exception = opened.payload["window_exception"]
    assert exception["article"] == "HA art. 11(三)"
    assert exception["reason"] == "the father was posted to Zhengzhou"
    stored = await national.transfer(request.transfer_id)
    assert stored.record.window_exception is not None
    envelopes = await national.decide(opened, reason="准予例外：家长工作调动")
    # the other parties are not told of it: the exception is the receiving authority's
    for later in of_type(envelopes, "transfer.step_opened"):
        assert later.payload["window_exception"] is None
    envelopes = await approve_all(national, envelopes)
    assert of_type(envelopes, "transfer.completed")
    assert (await national.entry(number)).school_code == SCHOOL


async def test_an_exception_refused_by_the_receiving_authority_ends_the_transfer(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number, requested_on=date(2026, 6, 1)).model_copy(
        update={"window_exception_reason": "moved house"}
    )
    envelopes = await national.request(request)
    opened = next(e for e in of_type(envelopes, "transfer.step_opened"))
    while opened.payload["role"] != "receiving_authority":
        [opened] = of_type(await national.decide(opened), "transfer.step_opened")
    assert opened.payload["window_exception"]["article"] == "HA art. 11(三)"
    await national.decide(opened, approve=False, reason="不符合例外条件")
    stored = await national.transfer(request.transfer_id)
    assert stored.saga.state == "rejected"
    assert (await national.entry(number)).school_code == SCHOOL


async def test_henan_needs_the_origin_registration_proof_from_another_province(
    national: NationalDriver,
) -> None:
    number = await enrol(national, ZHEJIANG_SCHOOL)
    assert await refused_with(national, transfer_request(number, ZHEJIANG_SCHOOL, SCHOOL)) == (
        "missing_proofs",
        "Henan (HA art. 11(二)): a transfer from another province needs origin_registration_proof",
    )


async def test_a_second_transfer_while_one_is_in_progress_is_refused(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    await national.request(transfer_request(number))
    second = transfer_request(number, to_school=OTHER_SCHOOL_SAME_COUNTY)
    assert await refused_with(national, second) == (
        "transfer_in_progress", "another transfer of this student is in progress (one at a time)",
    )  # fmt: skip


async def test_only_the_receiving_school_may_request_and_a_repeat_is_answered_once(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    with pytest.raises(PermanentMessageError, match="only school:4101050001 may"):
        await national.request(request, source=UnitRef(tier=Tier.SCHOOL, code=SCHOOL))
    assert len(await national.request(request)) == 1
    assert await national.request(request) == []  # the same transfer id again


# -- the parties and their order --------------------------------------------------------------


async def steps_of(national: NationalDriver, request: TransferRequested) -> list[tuple[str, ...]]:
    envelopes = await national.request(request)
    assert [e.type for e in envelopes] == ["transfer.step_opened"]
    stored = await national.transfer(request.transfer_id)
    assert str(envelopes[0].target) == stored.saga.steps[0].party_unit
    return [(s.role, s.party_unit, s.superior_unit) for s in stored.saga.steps]


async def test_henan_asks_its_province_first_then_receiving_authority_school_authority(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    assert await steps_of(national, transfer_request(number)) == HENAN_FLOW


async def test_zhejiang_asks_the_sending_school_then_both_authorities(
    national: NationalDriver,
) -> None:
    number = await enrol(national, ZHEJIANG_SCHOOL)
    request = transfer_request(number, ZHEJIANG_SCHOOL, ZHEJIANG_OTHER_COUNTY)
    assert await steps_of(national, request) == [
        ("sending_school", "school:3301020001", "county:330102"),
        ("sending_authority", "county:330102", "province:33"),
        ("receiving_authority", "county:330106", "province:33"),
    ]


async def test_across_provinces_the_receiving_order_rules_and_each_adds_its_own_step(
    national: NationalDriver,
) -> None:
    to_zhejiang = await enrol(national, SCHOOL, name="甲")
    assert await steps_of(national, transfer_request(to_zhejiang, SCHOOL, ZHEJIANG_SCHOOL)) == [
        ("sending_province", "province:41", "national:CN"),
        ("sending_school", "school:4101020001", "county:410102"),
        ("sending_authority", "county:410102", "province:41"),
        ("receiving_authority", "county:330102", "province:33"),
    ]
    to_henan = await enrol(national, ZHEJIANG_SCHOOL, name="乙")
    request = transfer_request(to_henan, ZHEJIANG_SCHOOL, SCHOOL, proofs=(origin_proof(),))
    assert await steps_of(national, request) == [
        ("receiving_authority", "county:410102", "province:41"),
        ("sending_school", "school:3301020001", "county:330102"),
        ("sending_authority", "county:330102", "province:33"),
    ]


async def test_a_unit_with_two_roles_decides_once(national: NationalDriver) -> None:
    same_county = await enrol(national, SCHOOL, name="甲")
    request = transfer_request(same_county, SCHOOL, OTHER_SCHOOL_SAME_COUNTY)
    assert [s[:2] for s in await steps_of(national, request)] == [
        ("sending_province", "province:41"),
        ("receiving_authority", "county:410102"),
        ("sending_school", "school:4101020001"),
    ]
    junior = await enrol(national, OTHER_SCHOOL_SAME_COUNTY, grade=7, name="乙")
    request = transfer_request(junior, OTHER_SCHOOL_SAME_COUNTY, PROVINCE_DIRECT_SCHOOL, grade=7)
    assert [s[:2] for s in await steps_of(national, request)] == [
        ("sending_province", "province:41"),  # also the province-direct school's authority
        ("sending_school", "school:4101020002"),
        ("sending_authority", "county:410102"),
    ]


async def test_a_step_opens_with_basic_facts_proofs_and_a_due_date(
    national: NationalDriver,
) -> None:
    number = await enrol(national, ZHEJIANG_SCHOOL, grade=3)
    request = transfer_request(number, ZHEJIANG_SCHOOL, SCHOOL, grade=3, proofs=(origin_proof(),))
    [opened] = await national.request(request)
    payload = opened.payload
    assert payload["role"] == "receiving_authority" and str(opened.target) == "county:410102"
    assert payload["student"] == {
        "name": "张伟", "gender": "male", "birth_date": "2016-03-14", "grade": 3,
    }  # fmt: skip
    assert payload["proofs"] == [{"index": 0, "kind": "origin_registration_proof"}]
    assert payload["opened_on"] == "2026-09-07"
    assert payload["due_on"] == "2026-09-20"  # 10 working days; Sunday 20 is worked (调休)
    assert payload["due_approximate"] is False
    assert opened.source == NATIONAL


# -- to the end -------------------------------------------------------------------------------


async def test_approved_by_every_party_the_registry_moves_in_one_commit(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    envelopes = await national.request(request)
    assert (await national.entry(number)).active_transfer_id == str(request.transfer_id)

    done = await approve_all(national, envelopes)

    assert targets(done) == ["school:4101020001", "school:4101050001", "province:41"]
    payload = done[0].payload
    assert {e.type for e in done} == {"transfer.completed"}
    assert (payload["from_school"], payload["to_school"], payload["grade"]) == (
        SCHOOL, HENAN_OTHER_COUNTY, 1,
    )  # fmt: skip
    assert payload["archive_due_on"] == "2026-10-07"  # 30 calendar days (N2013 art. 15)
    assert payload["basic"]["id_number"] == number[1:]
    assert payload["class_name"] == "三年级二班"
    entry = await national.entry(number)
    assert (entry.school_code, entry.province_code, entry.active_transfer_id) == (
        HENAN_OTHER_COUNTY, "41", None,
    )  # fmt: skip
    stored = await national.transfer(request.transfer_id)
    assert stored.saga.state == "completed" and stored.record.completed_at is not None
    assert [s.state for s in stored.saga.steps] == ["approved"] * 4
    assert [s.decision.decided_unit for s in stored.saga.steps if s.decision] == [
        unit for _, unit, _ in HENAN_FLOW
    ]


async def test_a_cross_province_transfer_tells_both_provinces(national: NationalDriver) -> None:
    number = await enrol(national)
    done = await approve_all(national, await national.request(
        transfer_request(number, SCHOOL, ZHEJIANG_SCHOOL)
    ))  # fmt: skip
    assert targets(done) == ["school:4101020001", "school:3301020001", "province:41", "province:33"]
    entry = await national.entry(number)
    assert (entry.school_code, entry.province_code) == (ZHEJIANG_SCHOOL, "33")


@pytest.mark.parametrize("rejecting", range(4))
async def test_a_rejection_at_any_party_ends_it_and_leaves_the_registry_as_it_was(
    national: NationalDriver, rejecting: int
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    envelopes = await national.request(request)
    for _ in range(rejecting):
        envelopes = await national.decide(envelopes[0])
    role, unit, _ = HENAN_FLOW[rejecting]
    assert str(envelopes[0].target) == unit

    closed = await national.decide(envelopes[0], approve=False, reason="no place in grade 1")

    told = ["school:4101050001", *(u for _, u, _ in HENAN_FLOW[: rejecting + 1])]
    assert targets(closed) == list(dict.fromkeys(told))
    assert {e.type for e in closed} == {"transfer.closed"}
    assert closed[0].payload == {
        "transfer_id": str(request.transfer_id),
        "outcome": "rejected",
        "rule": "rejected_by_party",
        "reason": f"{role} ({unit}) rejected the transfer: no place in grade 1",
    }
    entry = await national.entry(number)
    assert (entry.school_code, entry.active_transfer_id) == (SCHOOL, None)
    stored = await national.transfer(request.transfer_id)
    states = [s.state for s in stored.saga.steps]
    assert states == ["approved"] * rejecting + ["rejected"] + ["void"] * (3 - rejecting)
    # the student may be transferred again
    again = await national.request(transfer_request(number))
    assert of_type(again, "transfer.step_opened")


async def test_the_province_rejects_on_its_discipline_records_with_that_rule(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    [opened] = await national.request(transfer_request(number))
    closed = await national.decide(
        opened, approve=False, rule="under_discipline", reason="受处分期间"
    )
    assert closed[0].payload["rule"] == "under_discipline"


async def test_the_receiving_school_may_cancel_before_completion(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    [first] = await national.request(request)
    [second] = await national.decide(first)
    cancel = TransferCancelRequested(transfer_id=request.transfer_id, reason="the family stays")

    with pytest.raises(PermanentMessageError, match="not the receiving school"):
        await national.deliver(cancel, source=UnitRef(tier=Tier.SCHOOL, code=SCHOOL))
    closed = await national.deliver(cancel, source=UnitRef.parse(school(HENAN_OTHER_COUNTY)))

    assert targets(closed) == ["school:4101050001", "province:41", "county:410105"]
    assert closed[0].payload["outcome"] == "cancelled"
    assert closed[0].payload["reason"] == "the family stays"
    stored = await national.transfer(request.transfer_id)
    assert [s.state for s in stored.saga.steps] == ["approved", "void", "void", "void"]
    assert (await national.entry(number)).active_transfer_id is None
    # a decision on the voided step, and a second cancellation, are acknowledged and ignored
    assert await national.decide(second) == []
    assert await national.deliver(cancel, source=UnitRef.parse(school(HENAN_OTHER_COUNTY))) == []


async def test_two_concurrent_requests_for_one_student_only_one_proceeds(
    national: NationalDriver,
) -> None:
    """The first transaction has claimed the student but not committed when the second
    starts: on PostgreSQL the second reads "no active transfer", passes every check, and its
    conditional UPDATE waits for the row lock, then matches nothing; on SQLite it waits for
    the writer. Either way it is refused."""
    number = await enrol(national)
    first = transfer_request(number)
    second = transfer_request(number, to_school=OTHER_SCHOOL_SAME_COUNTY)
    envelope = build_envelope(first, source=UnitRef.parse(school(first.to_school)), target=NATIONAL)
    handler = national.handlers.lookup("transfer.requested", 1)
    assert handler is not None

    async with national.sessions() as session:
        async with session.begin():
            await handler[1](HandlerContext(session, envelope), first)
            racing = asyncio.create_task(national.request(second))
            await held_back(racing, national.sessions)
        staged = await racing  # the first one's step_opened committed meanwhile, too
    [answer] = [e for e in staged if e.payload["transfer_id"] == str(second.transfer_id)]

    assert answer.type == "transfer.refused"
    assert answer.payload["rule"] == "transfer_in_progress"
    assert (await national.entry(number)).active_transfer_id == str(first.transfer_id)


async def test_many_concurrent_requests_for_one_student_start_exactly_one(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    schools = [
        HENAN_OTHER_COUNTY,
        OTHER_SCHOOL_SAME_COUNTY,
        PROVINCE_DIRECT_SCHOOL,
        ZHEJIANG_SCHOOL,
    ]
    requests = [transfer_request(number, to_school=code) for code in schools]

    before = await national.last_outbox_id()

    await asyncio.gather(*(national.request(r) for r in requests))

    kinds = sorted(e.type for e in await national.staged_since(before))
    assert kinds == ["transfer.refused"] * 3 + ["transfer.step_opened"]
    async with national.sessions() as session:
        states = list(await session.scalars(select(TransferRecord.state)))
    assert sorted(states) == ["in_progress", "refused", "refused", "refused"]


# -- who may decide ---------------------------------------------------------------------------


async def test_only_the_party_may_decide_and_it_must_say_so(national: NationalDriver) -> None:
    number = await enrol(national)
    [opened] = await national.request(transfer_request(number))  # province:41's step
    with pytest.raises(PermanentMessageError, match="neither the party"):
        await national.decide(opened, "county:410102")
    # national decides a province's step only by an officer's intervention (HTTP), never by a
    # message: the consumer's authorization refuses it as a sender (decision 0025)
    with pytest.raises(PermanentMessageError, match="sender_not_allowed"):
        await national.decide(opened, "national:CN")
    payload, _ = decision(opened, "province:41")
    with pytest.raises(PermanentMessageError, match="is not the sender"):
        await national.deliver(payload, source=UnitRef.parse("county:410105"))
    unknown = payload.model_copy(update={"transfer_id": uuid.uuid4()})
    with pytest.raises(PermanentMessageError, match="no transfer"):
        await national.deliver(unknown, source=UnitRef.parse("province:41"))
    stored = await national.transfer(opened.payload["transfer_id"])
    pending = stored.saga.steps[1]
    never_opened = payload.model_copy(update={"step_id": uuid.UUID(pending.step_id)})
    with pytest.raises(PermanentMessageError, match="never opened"):
        await national.deliver(never_opened, source=UnitRef.parse("province:41"))


async def test_a_repeated_decision_is_acknowledged_and_ignored(national: NationalDriver) -> None:
    number = await enrol(national)
    [opened] = await national.request(transfer_request(number))
    assert len(await national.decide(opened)) == 1
    assert await national.decide(opened) == []
    assert await national.decide(opened, approve=False) == []
    stored = await national.transfer(opened.payload["transfer_id"])
    assert [s.state for s in stored.saga.steps][:2] == ["approved", "open"]


# -- the registry changes midway --------------------------------------------------------------


async def test_a_student_whose_status_changed_midway_stops_the_transfer(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    [first] = await national.request(request)
    [second] = await national.decide(first)
    await national.set_status(number, "suspended")

    closed = await national.decide(second)

    assert targets(closed) == ["school:4101050001", "province:41", "county:410105"]
    assert closed[0].payload["outcome"] == "stopped"
    assert closed[0].payload["rule"] == "status_changed"
    assert closed[0].payload["reason"].endswith("now suspended")
    stored = await national.transfer(request.transfer_id)
    assert stored.saga.state == "stopped"
    assert [s.state for s in stored.saga.steps] == ["approved", "void", "void", "void"]
    assert (await national.entry(number)).active_transfer_id is None


async def test_a_status_change_flow_stops_the_active_transfer_in_its_own_transaction(
    national: NationalDriver,
) -> None:
    number = await enrol(national)
    request = transfer_request(number)
    await national.request(request)
    before = await national.last_outbox_id()

    async with national.sessions() as session, session.begin():
        stopped = await stop_active_transfer(session, number, "suspended for illness")
        assert await stop_active_transfer(session, number, "again") is None

    assert stopped == request.transfer_id
    closed = await national.staged_since(before)
    assert targets(closed) == ["school:4101050001", "province:41"]
    assert closed[0].payload["reason"] == "suspended for illness"
    stored = await national.transfer(request.transfer_id)
    assert str(closed[0].correlation_id) == stored.record.correlation_id
    assert (await national.entry(number)).active_transfer_id is None


async def test_a_number_changed_midway_is_the_one_the_completion_carries(
    national: NationalDriver,
) -> None:
    born = date(2018, 3, 14)
    envelopes = await national.deliver(batch(basic("王芳", "female", born, id_type=IdType.NONE)))
    l_number = outcomes_of(envelopes[0])[0]["student_number"]
    opened = await national.request(transfer_request(l_number))
    new_id = resident_id(born, "female")
    await national.deliver(key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id))

    done = await approve_all(national, opened)

    assert {e.payload["student_number"] for e in done} == {f"G{new_id}"}
    assert (await national.entry(f"G{new_id}")).school_code == HENAN_OTHER_COUNTY


@pytest.mark.parametrize("read", ["one", "the student's"])
async def test_a_transfer_read_while_it_is_created_shows_its_steps(
    national: NationalDriver,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: str,
) -> None:
    """A reader reads the steps, then the transfers (one, or a student's): the request's
    commit may land between the two (PostgreSQL, read committed). The transfer then reads "in
    progress" with no step at all, and is read again: never a transfer without its steps."""
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has one connection: no commit lands between a reader's statements")
    number = await enrol(national)
    request = transfer_request(number)
    async with sessions() as session:
        created: list[list[Envelope]] = []
        for method in ("execute", "scalars"):
            original = getattr(session, method)

            async def then_created(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                result = await _original(*args, **kwargs)
                if not created:  # after the reader's first statement: the request commits
                    created.append(await national.request(request))
                return result

            monkeypatch.setattr(session, method, then_created)
        repository = TransferRepository(session)
        if read == "one":
            loaded = await repository.load(request.transfer_id)
        else:
            [loaded] = await repository.of_student(number)
    assert [e.type for e in created[0]] == ["transfer.step_opened"]
    assert loaded is not None and loaded.saga.state == "in_progress"
    assert [(s.role, s.party_unit) for s in loaded.saga.steps] == [
        (role, party) for role, party, _ in HENAN_FLOW
    ]
