"""A cohort's progression (升学) at national on a real database (SQLite, PostgreSQL): one
step per party for the whole cohort, refusals student by student with rule and article, the
registry moved set-based on the last approval, left-out students and rejections released."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools.testing import federation_copy
from services.national.service_layer.change_log import changes_of
from shared.contracts.graduation import GraduationBatchApproved, GraduationItem
from shared.contracts.progression import LeftOut, ProgressionRequested, ProgressionStepDecided
from shared.db.engine import SessionFactory
from shared.federation.config import Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    IN_WINDOW,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    NationalDriver,
    authority_of,
    enrol,
    of_type,
    transfer_request,
)

JUNIOR = OTHER_SCHOOL_SAME_COUNTY  # 4101020002, county 410102 like SCHOOL
SENIOR_LIANGSHAN = "5134010002"
YI_TRACK_JUNIOR = "5134010003"  # 凉山州民族中学: city-run, 一类模式


async def graduate(
    national: NationalDriver, school: str, *items: tuple[str, str], year: int = 2026
) -> None:
    await national.deliver(
        GraduationBatchApproved(
            batch_id=uuid.uuid4(),
            school_code=school,
            graduation_year=year,
            authority=str(authority_of(school)),
            items=tuple(GraduationItem(student_number=n, outcome=o) for n, o in items),
        )
    )


def request(
    from_school: str = SCHOOL,
    to_school: str = JUNIOR,
    *,
    year: int | None = None,
    numbers: tuple[str, ...] = (),
) -> ProgressionRequested:
    return ProgressionRequested(
        progression_id=uuid.uuid4(),
        from_school=from_school,
        to_school=to_school,
        graduation_year=year,
        student_numbers=numbers,
        requested_on=IN_WINDOW,
    )


async def ask(national: NationalDriver, payload: ProgressionRequested) -> list[Envelope]:
    return await national.deliver(payload, source=UnitRef(tier=Tier.SCHOOL, code=payload.to_school))


async def decide(
    national: NationalDriver,
    opened: Envelope,
    *,
    approve: bool = True,
    left_out: tuple[str, ...] = (),
    reason: str | None = None,
) -> list[Envelope]:
    sender = opened.target
    payload = ProgressionStepDecided(
        progression_id=opened.payload["progression_id"],
        step_id=opened.payload["step_id"],
        decision="approve" if approve else "reject",
        reason=reason,
        decided_by="王老师",
        decided_unit=str(sender),
        left_out=tuple(LeftOut(student_number=n, reason="未报到") for n in left_out),
    )
    return await national.deliver(payload, source=sender)


def outcomes(envelopes: list[Envelope]) -> dict[str, tuple[str, str | None, str | None]]:
    [updated] = of_type(envelopes, "progression.updated")
    return {
        i["student_number"]: (i["outcome"], i["rule"], i["article"])
        for i in updated.payload["items"]
    }


async def approve_all(national: NationalDriver, envelopes: list[Envelope]) -> list[Envelope]:
    """Approve step after step; the envelopes of the last decision."""
    while opened := of_type(envelopes, "progression.step_opened"):
        envelopes = await decide(national, opened[0])
    return envelopes


async def cohort(
    national: NationalDriver, n: int, *, grade: int = 6, school: str = SCHOOL
) -> list[str]:
    numbers = [await enrol(national, school, grade=grade, name=f"学生{i}") for i in range(n)]
    await graduate(national, school, *((number, "graduated") for number in numbers))
    return numbers


async def test_a_cohort_by_year_progresses_with_one_step_per_party(
    national: NationalDriver,
) -> None:
    numbers = await cohort(national, 3)
    envelopes = await ask(national, request(year=2026))

    assert set(outcomes(envelopes)) == set(numbers)
    assert {o for o, _, _ in outcomes(envelopes).values()} == {"pending"}
    [opened] = of_type(envelopes, "progression.step_opened")
    # Henan: its own province step first, then the county (receiving and sending authority at
    # once), then the sending school — one task each, the whole cohort in it
    assert str(opened.target) == "province:41"
    assert sorted(s["student_number"] for s in opened.payload["students"]) == sorted(numbers)
    asked = [str(opened.target)]
    while True:
        envelopes = await decide(national, opened)
        following = of_type(envelopes, "progression.step_opened")
        if not following:
            break
        [opened] = following
        asked.append(str(opened.target))
    assert asked == ["province:41", "county:410102", f"school:{SCHOOL}"]

    [completed, *_] = of_type(envelopes, "progression.completed")
    targets = {str(e.target) for e in of_type(envelopes, "progression.completed")}
    assert targets == {f"school:{JUNIOR}", f"school:{SCHOOL}", "province:41"}
    assert completed.payload["grade"] == 7
    assert len(completed.payload["students"]) == 3
    for number in numbers:
        entry = await national.entry(number)
        assert (entry.school_code, entry.status, entry.grade) == (JUNIOR, "enrolled", 7)
        assert entry.active_transfer_id is None
    assert {o for o, _, _ in outcomes(envelopes).values()} == {"progressed"}
    # the registry change log names the officer whose approval completed it (decision 0043)
    async with national.sessions() as session:
        entry = await national.entry(numbers[0])
        logged = await changes_of(session, entry.entry_id)
    assert [(c.kind, c.decided_by, c.decided_unit, c.school_code) for c in logged][-1:] == [
        ("progressed", "王老师", f"school:{SCHOOL}", JUNIOR)
    ]


async def test_each_refusal_names_its_rule_and_article(national: NationalDriver) -> None:
    ok, enrolled, young, completed_ = [
        await enrol(national, grade=g, name=n)
        for g, n in ((6, "甲"), (6, "乙"), (6, "丙"), (6, "丁"))
    ]
    await graduate(national, SCHOOL, (ok, "graduated"), (completed_, "completed"))
    await graduate(national, SCHOOL, (young, "graduated"))
    await national.set_grade(young, 5)
    elsewhere = await enrol(national, "4101020003", grade=6, name="戊")
    await graduate(national, "4101020003", (elsewhere, "graduated"))
    unknown = "G" + "410102201003140013"
    envelopes = await ask(
        national,
        request(numbers=(ok, enrolled, young, completed_, elsewhere, unknown)),
    )
    found = outcomes(envelopes)
    assert found[ok] == ("pending", None, None)
    assert found[enrolled] == (
        "refused", "progression_not_graduated", "N2013 art. 13; ZJ art. 25",
    )  # fmt: skip
    assert found[completed_][:2] == ("refused", "progression_not_graduated")
    assert found[young] == ("refused", "progression_wrong_grade", "LS 3(一); N2013 art. 14")
    assert found[elsewhere] == ("refused", "progression_wrong_school", "N2013 art. 14")
    assert found[unknown] == ("refused", "progression_unknown_student", "N2013 art. 5")

    # after it completes, the same student again is "already progressed"
    await approve_all(national, envelopes)
    again = await ask(national, request(numbers=(ok,)))
    assert outcomes(again)[ok] == (
        "refused", "progression_already_progressed", "N2013 art. 6; HA art. 8",
    )  # fmt: skip
    [updated] = of_type(again, "progression.updated")
    assert updated.payload["state"] == "refused"
    assert not of_type(again, "progression.step_opened")


async def test_a_wrong_stage_refuses_everyone(national: NationalDriver) -> None:
    [number] = await cohort(national, 1)
    envelopes = await ask(national, request(to_school="4101020003", numbers=(number,)))
    assert outcomes(envelopes)[number] == (
        "refused", "progression_wrong_stage", "LS 1(二); LS 3(二)",
    )  # fmt: skip


async def test_a_student_held_by_a_transfer_is_refused(national: NationalDriver) -> None:
    [number] = await cohort(national, 1)
    await national.set_claim(number, str(uuid.uuid4()))
    found = outcomes(await ask(national, request(numbers=(number,))))
    assert found[number][:2] == ("refused", "progression_held")


async def test_a_held_graduate_cannot_be_transferred(national: NationalDriver) -> None:
    [number] = await cohort(national, 1)
    await ask(national, request(numbers=(number,)))
    envelopes = await national.request(transfer_request(number))
    [refused] = of_type(envelopes, "transfer.refused")
    assert refused.payload["rule"] in ("transfer_in_progress", "not_enrolled")


async def test_completed_leavers_progress_where_the_province_says_so(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    config = federation_copy(
        tmp_path, rules={"41": {"progression": {"accept": ["graduated", "completed"]}}}
    )
    national = NationalDriver(sessions, config=config)
    number = await enrol(national, grade=6, name="甲")
    await graduate(national, SCHOOL, (number, "completed"))
    assert outcomes(await ask(national, request(numbers=(number,))))[number][0] == "pending"


async def test_a_province_may_name_fewer_parties(sessions: SessionFactory, tmp_path: Path) -> None:
    config = federation_copy(
        tmp_path, rules={"41": {"progression": {"parties": ["receiving_authority"]}}}
    )
    national = NationalDriver(sessions, config=config)
    numbers = await cohort(national, 2)
    envelopes = await ask(national, request(year=2026))
    [opened] = of_type(envelopes, "progression.step_opened")
    assert str(opened.target) == "county:410102"
    done = await decide(national, opened)
    assert of_type(done, "progression.completed")
    assert (await national.entry(numbers[0])).school_code == JUNIOR


async def test_left_out_students_stay_and_the_rest_progress(national: NationalDriver) -> None:
    stay, go = await cohort(national, 2)
    envelopes = await ask(national, request(year=2026))
    [opened] = of_type(envelopes, "progression.step_opened")
    envelopes = await decide(national, opened, left_out=(stay,))
    [following] = of_type(envelopes, "progression.step_opened")
    assert [s["student_number"] for s in following.payload["students"]] == [go]
    envelopes = await approve_all(national, envelopes)
    entry = await national.entry(stay)
    assert (entry.school_code, entry.status, entry.active_transfer_id) == (
        SCHOOL,
        "graduated",
        None,
    )
    assert (await national.entry(go)).school_code == JUNIOR
    assert outcomes(envelopes)[stay][:2] == (
        "left_out", "progression_left_out",
    )  # fmt: skip


async def test_a_rejection_releases_the_whole_cohort(national: NationalDriver) -> None:
    numbers = await cohort(national, 2)
    envelopes = await ask(national, request(year=2026))
    [opened] = of_type(envelopes, "progression.step_opened")
    envelopes = await decide(national, opened, approve=False, reason="名额已满")
    closed = of_type(envelopes, "progression.closed")
    assert {str(e.target) for e in closed} == {"province:41", f"school:{JUNIOR}"}
    assert {o[:2] for o in outcomes(envelopes).values()} == {("rejected", "progression_rejected")}
    for number in numbers:
        entry = await national.entry(number)
        assert (entry.status, entry.active_transfer_id) == ("graduated", None)


async def test_a_cross_province_progression_tells_both_provinces(national: NationalDriver) -> None:
    number = await enrol(national, JUNIOR, grade=9, name="甲")
    await graduate(national, JUNIOR, (number, "graduated"))
    envelopes = await approve_all(
        national, await ask(national, request(JUNIOR, SENIOR_LIANGSHAN, numbers=(number,)))
    )
    targets = {str(e.target) for e in of_type(envelopes, "progression.completed")}
    assert targets == {
        f"school:{SENIOR_LIANGSHAN}",
        f"school:{JUNIOR}",
        "province:41",
        "province:51",
    }
    entry = await national.entry(number)
    assert (entry.school_code, entry.province_code, entry.grade) == (SENIOR_LIANGSHAN, "51", 10)


async def test_a_unit_that_is_no_party_is_a_security_refusal(national: NationalDriver) -> None:
    await cohort(national, 1)
    [opened] = of_type(await ask(national, request(year=2026)), "progression.step_opened")
    stranger = UnitRef(tier=Tier.COUNTY, code="330102")
    payload = ProgressionStepDecided(
        progression_id=opened.payload["progression_id"],
        step_id=opened.payload["step_id"],
        decision="approve",
        decided_by="x",
        decided_unit=str(stranger),
    )
    with pytest.raises(NotAParty):
        await national.deliver(payload, source=stranger)


async def test_a_late_party_is_reported_once_and_its_superior_decides_for_it(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    config = federation_copy(
        tmp_path, rules={"41": {"progression": {"parties": ["sending_school"]}}}
    )
    national = NationalDriver(sessions, config=config)
    numbers = await cohort(national, 2)
    [opened] = of_type(await ask(national, request(year=2026)), "progression.step_opened")
    assert str(opened.target) == f"school:{SCHOOL}"
    due = date.fromisoformat(opened.payload["due_on"])

    # not overdue on its last day: the superior may not step in yet, nothing is reported
    _, sent = await national.sweep(due)
    assert of_type(sent, "progression.step_overdue") == []
    with pytest.raises(PermanentMessageError):
        await decide(national, opened.model_copy(update={"target": UnitRef.parse("county:410102")}))

    _, sent = await national.sweep(due + timedelta(days=1))
    [overdue] = of_type(sent, "progression.step_overdue")
    assert (str(overdue.target), overdue.payload["party"]) == ("county:410102", f"school:{SCHOOL}")
    assert overdue.payload["student_count"] == 2
    _, again = await national.sweep(due + timedelta(days=2))
    assert of_type(again, "progression.step_overdue") == []  # reported once

    national.set_today(due + timedelta(days=2))
    envelopes = await decide(
        national, opened.model_copy(update={"target": UnitRef.parse("county:410102")})
    )
    [settled] = of_type(envelopes, "progression.step_settled")
    assert (str(settled.target), settled.payload["intervention"]) == (f"school:{SCHOOL}", True)
    assert of_type(envelopes, "progression.completed")
    assert (await national.entry(numbers[0])).school_code == JUNIOR


async def test_a_yi_track_junior_school_takes_outsiders_only_with_the_selection(
    national: NationalDriver,
) -> None:
    """LS 6 at a Liangshan Yi-track junior school (5134010003): a graduate from outside the
    track is refused without the selection result and held with it."""
    outsider, selected = await cohort(national, 2)
    payload = request(SCHOOL, YI_TRACK_JUNIOR, numbers=(outsider, selected))
    payload = payload.model_copy(update={"yi_track_selected": (selected,)})
    found = outcomes(await ask(national, payload))
    assert found[outsider] == ("refused", "progression_yi_track", "LS 6")
    assert found[selected] == ("pending", None, None)


async def test_the_yi_track_check_is_liangshan_s_only(national: NationalDriver) -> None:
    """The same cohort into a junior school elsewhere is not asked for a selection."""
    [number] = await cohort(national, 1)
    found = outcomes(await ask(national, request(SCHOOL, JUNIOR, numbers=(number,))))
    assert found[number] == ("pending", None, None)
