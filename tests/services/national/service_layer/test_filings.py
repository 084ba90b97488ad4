"""What national files with a city / prefecture (备案, decision 0034), against a real national
database: a graduating-year suspension (LS 2(二)5) and a Yi-track school's starting-grade
roster (LS 6) — in Liangshan only, once per decision or batch, never per student."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from shared.contracts.status import StatusChangeApproved, StatusChangeFacts
from shared.contracts.transfer import ProofRef
from shared.federation.config import UnitRef
from shared.messaging.authorization import NotAParty
from tests.services.national.builders import (
    NationalDriver,
    authority_of,
    basic,
    batch,
    enrol,
    of_type,
    outcomes_of,
)

XICHANG_PRIMARY = "5134010001"  # Liangshan, county-run
YI_TRACK_JUNIOR = "5134010003"  # Liangshan, city-run, Yi track
CHENGDU_PRIMARY = "5101040001"  # Sichuan outside Liangshan


def suspension(number: str, school: str) -> StatusChangeApproved:
    return StatusChangeApproved(
        change_id=uuid.uuid4(),
        school_code=school,
        student_number=number,
        facts=StatusChangeFacts(change="suspend", effective_on=date(2026, 9, 1), ground="illness"),
        authority=str(authority_of(school)),
        proofs=(ProofRef(index=0, kind="hospital_certificate"),),
    )


async def test_a_graduating_year_suspension_is_filed_with_the_prefecture(
    national: NationalDriver,
) -> None:
    graduating = await enrol(national, XICHANG_PRIMARY, grade=6, name="甲")
    change = suspension(graduating, XICHANG_PRIMARY)
    staged = await national.deliver(change)
    [decided] = of_type(staged, "status_change.decided")[:1]
    assert decided.payload["outcome"] == "applied"
    [filed] = of_type(staged, "filing.submitted")
    assert str(filed.target) == "city:5134"
    assert filed.payload["kind"] == "graduating_suspension"
    assert filed.payload["student_numbers"] == [graduating]
    assert (filed.payload["grade"], filed.payload["article"]) == (6, "LS 2(二)5")
    assert filed.payload["subject_id"] == str(change.change_id)
    # the same decision again: the same filing (the desk keeps one task per filing id)
    [again] = of_type(await national.deliver(change), "filing.submitted")
    assert again.payload["filing_id"] == filed.payload["filing_id"]


async def test_no_filing_below_the_graduating_year_nor_outside_liangshan(
    national: NationalDriver,
) -> None:
    younger = await enrol(national, XICHANG_PRIMARY, grade=5, name="乙")
    assert (
        of_type(await national.deliver(suspension(younger, XICHANG_PRIMARY)), "filing.submitted")
        == []
    )
    chengdu = await enrol(national, CHENGDU_PRIMARY, grade=6, name="丙")
    staged = await national.deliver(suspension(chengdu, CHENGDU_PRIMARY))
    assert of_type(staged, "status_change.decided")[0].payload["outcome"] == "applied"
    assert of_type(staged, "filing.submitted") == []


async def test_a_yi_track_schools_starting_grade_roster_goes_to_the_prefecture_by_sept_30(
    national: NationalDriver,
) -> None:
    infos = [
        basic(f"阿{n}", birth=date(2011, 3, n + 1), grade=7)  # enrolled 2024-09-01
        for n in range(3)
    ]
    staged = await national.deliver(batch(*infos, school=YI_TRACK_JUNIOR))
    numbers = [o["student_number"] for o in outcomes_of(staged[0])]
    [filed] = of_type(staged, "filing.submitted")  # one filing for the batch
    assert str(filed.target) == "city:5134"
    assert filed.payload["kind"] == "yi_track_roster"
    assert sorted(filed.payload["student_numbers"]) == sorted(numbers)
    assert (filed.payload["due_on"], filed.payload["article"]) == ("2024-09-30", "LS 6")
    # not a starting grade, or not a Yi-track school: nothing filed
    later = await national.deliver(
        batch(basic("阿九", birth=date(2012, 5, 5), grade=8), school=YI_TRACK_JUNIOR)
    )
    assert of_type(later, "filing.submitted") == []
    plain = await national.deliver(
        batch(basic("吉一", birth=date(2019, 5, 5)), school=XICHANG_PRIMARY)
    )
    assert of_type(plain, "filing.submitted") == []


YI_SENIOR = "5134010004"  # Yi-track senior school, county 513401


async def test_a_yi_track_senior_first_year_list_is_registered_on_the_citys_approval_only(
    national: NationalDriver,
) -> None:
    """LS 6: the prefecture approves the list before registration; the county does not."""
    first_year = batch(basic("阿果", birth=date(2010, 3, 1), grade=10), school=YI_SENIOR)
    by_county = first_year.model_copy(update={"authority": "county:513401"})
    with pytest.raises(NotAParty, match="city:5134 is"):
        await national.deliver(by_county, source=UnitRef.parse("county:513401"))
    city = first_year.model_copy(update={"authority": "city:5134"})
    staged = await national.deliver(city, source=UnitRef.parse("city:5134"))
    [outcome] = outcomes_of(staged[0])
    assert outcome["outcome"] == "issued"
    assert (await national.entry(outcome["student_number"])).yi_track is True
