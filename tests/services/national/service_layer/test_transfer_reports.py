"""N2013 art. 18: the term's transfers of province-direct and city-run schools go to the
county they are in, one ``transfer.term_report`` per school per term (decision 0034), read
from a real national database (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import update

from services.national.adapters.orm import TransferRecord
from services.national.service_layer.transfer_reports import send_term_reports, term_start
from shared.federation.config import NATIONAL
from shared.messaging.envelope import Envelope
from shared.messaging.uow import UnitOfWork
from tests.services.national.builders import (
    OTHER_SCHOOL_SAME_COUNTY,
    PROVINCE_DIRECT_SCHOOL,
    NationalDriver,
    enrol,
    of_type,
    transfer_request,
)
from tests.services.national.service_layer.test_transfers import approve_all

YI_TRACK_JUNIOR = "5134010003"  # city-run (Liangshan), county 513401


async def transfer(
    national: NationalDriver, from_school: str, to_school: str, grade: int, name: str, at: datetime
) -> str:
    """A completed transfer, completed at ``at``; the student's number."""
    number = await enrol(national, from_school, grade=grade, name=name)
    request = transfer_request(number, from_school, to_school, grade=grade)
    done = await approve_all(national, await national.request(request))
    assert of_type(done, "transfer.completed")
    async with national.sessions() as session, session.begin():
        await session.execute(
            update(TransferRecord)
            .where(TransferRecord.transfer_id == str(request.transfer_id))
            .values(completed_at=at)
        )
    return number


async def reports(national: NationalDriver, term_end: date) -> tuple[list[Envelope], int]:
    before = await national.last_outbox_id()
    async with UnitOfWork(national.sessions) as uow:
        sent = await send_term_reports(
            uow.session, uow.emitter(NATIONAL), national.deps.rulebook, term_end
        )
        await uow.commit()
    assert sent.reports == len(await national.staged_since(before))
    return await national.staged_since(before), sent.transfers


async def test_each_reporting_school_tells_its_county_its_terms_transfers_in_and_out(
    national: NationalDriver,
) -> None:
    autumn = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
    arrived = await transfer(
        national, OTHER_SCHOOL_SAME_COUNTY, PROVINCE_DIRECT_SCHOOL, 7, "甲", autumn
    )
    left = await transfer(
        national, PROVINCE_DIRECT_SCHOOL, OTHER_SCHOOL_SAME_COUNTY, 8, "乙", autumn
    )
    # completed in the term before (it ended 2026-07-15): not in this term's report
    await transfer(
        national,
        OTHER_SCHOOL_SAME_COUNTY,
        PROVINCE_DIRECT_SCHOOL,
        8,
        "丙",
        datetime(2026, 7, 15, 15, 30, tzinfo=UTC),  # 2026-07-15 23:30 in Beijing
    )

    sent, lines = await reports(national, date(2027, 1, 31))
    assert lines == 2
    by_school = {e.payload["school_code"]: e for e in of_type(sent, "transfer.term_report")}
    assert set(by_school) == {PROVINCE_DIRECT_SCHOOL, YI_TRACK_JUNIOR}  # one per school
    direct = by_school[PROVINCE_DIRECT_SCHOOL]
    assert str(direct.target) == "county:410105"  # where it is, not its authority
    assert (direct.payload["period_start"], direct.payload["period_end"]) == (
        "2026-07-16",
        "2027-01-31",
    )
    assert direct.payload["transfers_in"] == [
        {
            "student_number": arrived,
            "other_school": OTHER_SCHOOL_SAME_COUNTY,
            "grade": 7,
            "completed_on": "2026-10-10",
        }
    ]
    assert [line["student_number"] for line in direct.payload["transfers_out"]] == [left]
    assert direct.payload["article"] == "N2013 art. 18"
    city_run = by_school[YI_TRACK_JUNIOR]
    assert str(city_run.target) == "county:513401"
    assert (city_run.payload["transfers_in"], city_run.payload["transfers_out"]) == ([], [])


async def test_no_report_on_a_day_that_ends_no_term(national: NationalDriver) -> None:
    sent, _ = await reports(national, date(2027, 1, 30))
    assert sent == []


def test_a_term_runs_from_the_day_after_the_last_term_end() -> None:
    ends = ("01-31", "07-15")
    assert term_start(ends, date(2027, 1, 31)) == date(2026, 7, 16)
    assert term_start(ends, date(2027, 7, 15)) == date(2027, 2, 1)
    assert term_start(ends, date(2027, 3, 1)) is None
