"""National applies status changes (学籍变动) to a real database, SQLite and PostgreSQL: the
registry entry, the current suspension, the transfer it stops, the decision sent to school
and province, refusals naming their rule — and the suspension sweep."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.national.adapters.orm import StatusChangeRecord, Suspension
from services.national.entrypoints.suspension_sweeper import SuspensionSweeper
from shared.contracts.status import StatusChangeApproved, StatusChangeFacts
from shared.contracts.transfer import ProofRef
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    SCHOOL,
    SICHUAN_SCHOOL,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    authority_of,
    basic,
    batch,
    of_type,
    outcomes_of,
    school_unit,
    targets,
    transfer_request,
)

CHENGDU_SCHOOL = "5101040001"  # Sichuan outside Liangshan: LS does not apply
SENIOR_SCHOOL = "5134010002"  # Sichuan, senior: LS 2(三)'s 2 % repeat cap


_serial = iter(range(1, 10_000))


async def enrol_many(
    national: NationalDriver, count: int, school: str = SCHOOL, *, grade: int = 1
) -> list[str]:
    """``count`` students registered in one batch, each with their own name and birthday."""
    infos = []
    for _ in range(count):
        n = next(_serial)
        birth = date(2019 - grade, 1, 1) + timedelta(days=n % 360)
        infos.append(basic(f"学生{n:04d}", birth=birth, grade=grade))
    [answer, _] = await national.deliver(batch(*infos, school=school))
    outcomes = outcomes_of(answer)
    assert {o["outcome"] for o in outcomes} == {"issued"}, outcomes
    return [o["student_number"] for o in outcomes]


async def enrol(national: NationalDriver, school: str = SCHOOL, *, grade: int = 1) -> str:
    [number] = await enrol_many(national, 1, school, grade=grade)
    return number


def approved(
    number: str, change: str, school: str = SCHOOL, on: date = date(2026, 9, 1), **facts: Any
) -> StatusChangeApproved:
    return StatusChangeApproved(
        change_id=uuid.uuid4(),
        school_code=school,
        student_number=number,
        facts=StatusChangeFacts(change=change, effective_on=on, **facts),  # type: ignore[arg-type]
        authority=str(authority_of(school)),
        proofs=(ProofRef(index=0, kind="hospital_certificate"),),
    )


async def decided(national: NationalDriver, change: StatusChangeApproved) -> dict[str, Any]:
    """Deliver ``change``; national answers the school and its province with one decision."""
    staged = of_type(await national.deliver(change), "status_change.decided")
    assert targets(staged) == [
        school_unit(change.school_code),
        f"province:{change.school_code[:2]}",
    ]
    assert staged[0].payload == staged[1].payload
    return dict(staged[0].payload)


async def test_suspension_then_resumption_in_the_next_grade(national: NationalDriver) -> None:
    number = await enrol(national, grade=2)
    suspended = await decided(national, approved(number, "suspend", ground="illness"))
    assert suspended["outcome"] == "applied"
    assert (suspended["from_status"], suspended["to_status"]) == ("enrolled", "suspended")
    assert suspended["suspended_until"] == "2027-09-01"  # 休学期限一般为1年 (HA art. 13(三))
    assert suspended["proofs"] == [{"index": 0, "kind": "hospital_certificate"}]
    assert (await national.entry(number)).status == "suspended"

    resumed = await decided(national, approved(number, "resume", target_grade=3))
    assert (resumed["outcome"], resumed["to_status"], resumed["to_grade"]) == (
        "applied",
        "enrolled",
        3,
    )
    entry = await national.entry(number)
    assert (entry.status, entry.grade) == ("enrolled", 3)
    async with national.sessions() as session:
        assert await session.get(Suspension, entry.entry_id) is None  # the suspension ended


async def test_resumption_in_a_lower_or_too_high_grade_is_refused(national: NationalDriver) -> None:
    number = await enrol(national, grade=3)
    await decided(national, approved(number, "suspend", ground="illness"))
    lower = await decided(national, approved(number, "resume", target_grade=2))
    assert (lower["outcome"], lower["rule"]) == ("rejected", "resumption_grade_lower")
    assert "LS 2(二)5" in lower["article"]
    higher = await decided(national, approved(number, "resume", target_grade=5))
    assert higher["rule"] == "resumption_grade_skips"
    assert (await national.entry(number)).status == "suspended"  # nothing changed


async def test_an_extension_beyond_the_province_limit_is_refused(national: NationalDriver) -> None:
    number = await enrol(national)
    await decided(national, approved(number, "suspend", ground="illness"))
    extended = await decided(national, approved(number, "extend_suspension"))
    assert (extended["outcome"], extended["suspended_until"]) == ("applied", "2028-09-01")
    again = await decided(national, approved(number, "extend_suspension"))
    assert (again["outcome"], again["rule"]) == ("rejected", "suspension_extension_limit")
    assert "the province allows 1" in again["reason"]
    assert "河南省 rules" in again["article"]


async def test_compulsory_suspension_only_where_the_province_provides_it(
    national: NationalDriver,
) -> None:
    """ZJ art. 14: a notifiable disease obliges suspension; Henan has no such rule."""
    zj = await enrol(national, ZHEJIANG_SCHOOL)
    ordered = approved(zj, "suspend", ZHEJIANG_SCHOOL, ground="notifiable_disease", compulsory=True)
    assert (await decided(national, ordered))["outcome"] == "applied"
    ha = await enrol(national)
    refused = await decided(
        national, approved(ha, "suspend", ground="notifiable_disease", compulsory=True)
    )
    assert refused["rule"] == "compulsory_suspension_not_provided"


async def test_death_is_final_and_dated_against_60_working_days(national: NationalDriver) -> None:
    number = await enrol(national)
    death = await decided(national, approved(number, "decease", ground="death"))
    assert (death["outcome"], death["to_status"]) == ("applied", "deceased")
    # 60 Chinese working days after 2026-09-01: Mid-Autumn and the National Day week off,
    # September 20 and October 10 worked (调休).
    assert (death["report_due_on"], death["reported_late"]) == ("2026-11-30", False)
    for change, facts in [("return", {"target_grade": 1}), ("suspend", {"ground": "illness"})]:
        later = await decided(national, approved(number, change, **facts))
        assert (later["outcome"], later["rule"]) == ("rejected", "deceased_is_final")
    assert (await national.entry(number)).status == "deceased"


async def test_a_late_death_report_is_applied_and_flagged(national: NationalDriver) -> None:
    number = await enrol(national)
    death = await decided(
        national, approved(number, "decease", on=date(2026, 5, 6), ground="death")
    )
    assert death["outcome"] == "applied" and death["reported_late"] is True


async def test_missing_or_detained_students_are_not_cancelled(national: NationalDriver) -> None:
    number = await enrol(national)
    for ground in ("missing", "detained"):
        refused = await decided(national, approved(number, "decease", ground=ground))
        assert (refused["rule"], refused["article"]) == (
            "missing_or_detained_not_cancelled",
            "HA art. 16; ZJ art. 13",
        )
    assert (await national.entry(number)).status == "enrolled"


@pytest.mark.parametrize(
    ("change", "ground", "status"),
    [("suspend", "illness", "suspended"), ("decease", "death", "deceased")],
)
async def test_a_status_change_stops_the_transfer_in_progress(
    national: NationalDriver, change: str, ground: str, status: str
) -> None:
    """Issue #4: a transfer whose student was suspended or died meanwhile stops, saying why."""
    number = await enrol(national)
    request = transfer_request(number)
    await national.request(request)
    staged = await national.deliver(approved(number, change, ground=ground))
    [school, _] = of_type(staged, "status_change.decided")
    assert school.payload["stopped_transfer_id"] == str(request.transfer_id)
    closed = of_type(staged, "transfer.closed")
    assert closed and {c.payload["rule"] for c in closed} == {"status_changed"}
    [reason] = {c.payload["reason"] for c in closed}
    assert reason.startswith(f"the student is now {status} ({change} as of 2026-09-01; N2013")
    saga = (await national.transfer(request.transfer_id)).saga
    assert saga.state.value == "stopped"
    entry = await national.entry(number)
    assert (entry.status, entry.active_transfer_id) == (status, None)


async def test_grade_changes_follow_each_province(national: NationalDriver) -> None:
    ha = await enrol(national, grade=2)
    too_far = await decided(national, approved(ha, "skip_grade", target_grade=4))
    assert too_far["rule"] == "grade_skip_too_far"
    skipped = await decided(national, approved(ha, "skip_grade", target_grade=3))
    assert (skipped["outcome"], skipped["to_grade"]) == ("applied", 3)
    zj = await enrol(national, ZHEJIANG_SCHOOL, grade=5)
    graduating = await decided(
        national, approved(zj, "skip_grade", ZHEJIANG_SCHOOL, target_grade=6)
    )
    assert graduating["rule"] == "grade_skip_graduating_year"
    assert "ZJ art. 12" in graduating["article"]
    ls = await enrol(national, SICHUAN_SCHOOL, grade=4)
    repeat = await decided(national, approved(ls, "repeat_grade", SICHUAN_SCHOOL, target_grade=3))
    assert repeat["rule"] == "repeat_not_allowed_compulsory"
    special = approved(ls, "repeat_grade", SICHUAN_SCHOOL, target_grade=3, special_education=True)
    assert (await decided(national, special))["outcome"] == "applied"  # N2025 art. 14


async def test_the_high_school_repeat_cap_is_two_percent_over_three_years(
    national: NationalDriver,
) -> None:
    """LS 2(三): 留级比例三年内不得超过年级学生总数的 2%. 50 in grade 11 allow one."""
    numbers = await enrol_many(national, 50, SENIOR_SCHOOL, grade=11)
    first = await decided(
        national, approved(numbers[0], "repeat_grade", SENIOR_SCHOOL, target_grade=10)
    )
    assert first["outcome"] == "applied"
    second = await decided(
        national, approved(numbers[1], "repeat_grade", SENIOR_SCHOOL, target_grade=10)
    )
    assert (second["outcome"], second["rule"]) == ("rejected", "repeat_cap_exceeded")
    assert "2 % allows 0" in second["reason"]  # 49 left in grade 11
    assert "LS 2(三)" in second["article"]


async def test_a_change_sent_twice_is_answered_once(national: NationalDriver) -> None:
    number = await enrol(national)
    change = approved(number, "go_abroad")
    first = await decided(national, change)
    again = await decided(national, change)
    assert first == again and first["to_status"] == "abroad"
    async with national.sessions() as session:
        rows = (await session.scalars(select(StatusChangeRecord))).all()
    assert [r.change_id for r in rows] == [str(change.change_id)]


async def test_unknown_students_and_other_schools_are_refused(national: NationalDriver) -> None:
    unknown = await decided(national, approved("G410102201903140011", "go_abroad"))
    assert unknown["rule"] == "unknown_student_number"
    number = await enrol(national)
    elsewhere = approved(number, "go_abroad", school="4101020002")
    assert (await decided(national, elsewhere))["rule"] == "not_registered_at_school"


async def test_the_sweep_lapses_suspensions_where_the_province_says_so(
    national: NationalDriver,
) -> None:
    """LS 2(二)3: a suspension over without resumption becomes other departure (Liangshan
    only, decision 0034); Henan's and Chengdu's are counted and left to the school."""
    ls = await enrol(national, SICHUAN_SCHOOL)
    ha = await enrol(national)
    chengdu = await enrol(national, CHENGDU_SCHOOL)
    await decided(national, approved(ls, "suspend", SICHUAN_SCHOOL, on=date(2025, 9, 1)))
    await decided(national, approved(ha, "suspend", on=date(2025, 9, 1)))
    await decided(national, approved(chengdu, "suspend", CHENGDU_SCHOOL, on=date(2025, 9, 1)))
    report, staged = await sweep(national, date(2026, 9, 7))
    assert (report.lapsed, report.left_to_schools) == (1, 2)
    [lapse, _] = of_type(staged, "status_change.decided")
    assert lapse.payload["facts"]["change"] == "lapse"
    assert (lapse.payload["to_status"], lapse.payload["article"]) == (
        "other_departure",
        "LS 2(二)3",
    )
    assert (await national.entry(ls)).status == "other_departure"
    assert (await national.entry(ha)).status == "suspended"
    assert (await national.entry(chengdu)).status == "suspended"
    again, _ = await sweep(national, date(2026, 9, 7))
    assert again.lapsed == 0


async def sweep(national: NationalDriver, as_of: date) -> tuple[Any, list[Envelope]]:
    """The periodic sweep national runs (here once), on ``as_of``."""
    national.set_today(as_of)
    before = await national.last_outbox_id()
    report = await SuspensionSweeper(national.sessions, national.deps, 0).sweep_once()
    return report, await national.staged_since(before)


async def test_departures_and_returns_keep_the_registration(national: NationalDriver) -> None:
    """Other departure, suspected dropout, dropout (kept for the compulsory years), abroad:
    each comes back to ``enrolled`` in the matching grade; a deferred first-grader starts."""
    number = await enrol(national, grade=2)
    path = [
        ("report_absence", {}, "other_departure", 2),
        ("return", {"target_grade": 2}, "enrolled", 2),
        ("suspect_dropout", {}, "suspected_dropout", 2),
        ("report_dropout", {}, "dropout", 2),
        ("return", {"target_grade": 3}, "enrolled", 3),
        ("go_abroad", {}, "abroad", 3),
        ("return_from_abroad", {"target_grade": 4}, "enrolled", 4),
    ]
    for change, facts, status, grade in path:
        answer = await decided(national, approved(number, change, **facts))
        assert (answer["outcome"], answer["to_status"], answer["to_grade"]) == (
            "applied",
            status,
            grade,
        ), change
    zj = await enrol(national, ZHEJIANG_SCHOOL)
    deferred = await decided(national, approved(zj, "defer", ZHEJIANG_SCHOOL))
    assert deferred["to_status"] == "deferred"
    started = await decided(national, approved(zj, "start", ZHEJIANG_SCHOOL))
    assert (started["to_status"], started["to_grade"]) == ("enrolled", 1)


async def test_only_the_school_s_authority_may_send_an_approval(national: NationalDriver) -> None:
    """Anything else can never apply: dead-lettered, naming units only."""
    number = await enrol(national)
    change = approved(number, "go_abroad")
    with pytest.raises(PermanentMessageError) as refused:
        await national.deliver(change, source=UnitRef(tier=Tier.COUNTY, code="410105"))
    assert "is not the registry authority of school 4101020001" in str(refused.value)
    assert number not in str(refused.value)
    assert (await national.entry(number)).status == "enrolled"


async def test_the_registry_moves_only_from_the_state_the_change_was_decided_on(
    national: NationalDriver,
) -> None:
    """Two changes decided at once on the same registration: the second write finds the
    entry moved and fails (the consumer retries it, and it is decided again)."""
    from datetime import UTC, datetime

    from services.national.adapters.status_repository import StatusRepository

    number = await enrol(national)
    entry = await national.entry(number)
    async with national.sessions() as session, session.begin():
        statuses = StatusRepository(session)
        now = datetime.now(UTC)
        assert await statuses.set_status(entry.entry_id, ("enrolled", 1), ("suspended", 1), now)
        assert not await statuses.set_status(entry.entry_id, ("enrolled", 1), ("deceased", 1), now)
    assert (await national.entry(number)).status == "suspended"


async def test_withdrawal_at_18_in_zhejiang_only(national: NationalDriver) -> None:
    """ZJ art. 17: 年满18周岁 … 办理退学手续; under 18 refused; Henan provides none."""
    adult, minor = basic("成年生", birth=date(2008, 8, 31), grade=6), basic("少年生", grade=6)
    [answer, _] = await national.deliver(batch(adult, minor, school=ZHEJIANG_SCHOOL))
    first, second = (o["student_number"] for o in outcomes_of(answer))

    young = await decided(national, approved(second, "withdraw", ZHEJIANG_SCHOOL))
    assert (young["outcome"], young["rule"], young["article"]) == (
        "rejected",
        "withdrawal_under_age",
        "ZJ art. 17",
    )
    assert (await national.entry(second)).status == "enrolled"

    withdrawn = await decided(national, approved(first, "withdraw", ZHEJIANG_SCHOOL))
    assert (withdrawn["outcome"], withdrawn["to_status"]) == ("applied", "withdrawn")
    assert (await national.entry(first)).status == "withdrawn"
    again = await decided(national, approved(first, "resume", ZHEJIANG_SCHOOL, target_grade=6))
    assert again["rule"] == "status_change_not_allowed"

    henan = await enrol(national)
    refused = await decided(national, approved(henan, "withdraw"))
    assert (refused["rule"], refused["article"]) == (
        "withdrawal_not_provided",
        "ZJ art. 17; N2013 art. 22",
    )
