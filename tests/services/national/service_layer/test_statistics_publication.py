"""National sends each county and province its basic figures of a day, one message each
(decision 0047), on a real database (SQLite, PostgreSQL): each county's message holds exactly
what national's own statistics answer for that county (the census at the end of the day, the
day's movements) and nothing of another county; each province's, its counties' sums. Early
warnings go to the school's authority once, with the figures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from services.national.adapters.orm import RegistryEntry, RegistryPeriod
from services.national.service_layer import statistics
from services.national.service_layer.statistics_publication import publish_day
from shared.clock import CHINA
from shared.contracts.statistics import AlertRaised, CountyFigures, ProvinceFigures
from shared.federation.config import NATIONAL, Federation, School, Tier, UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from tests.services.national.builders import (
    FEDERATION,
    HENAN_OTHER_COUNTY,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    enrol,
)
from tests.services.national.service_layer.test_statistics import change, transfer

COUNTY = UnitRef(tier=Tier.COUNTY, code="410102")


class Sent:
    """An ``Emit`` that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[tuple[Contract, UnitRef]] = []

    async def __call__(self, payload: Contract, *, target: UnitRef) -> Envelope:
        self.messages.append((payload, target))
        return build_envelope(payload, source=NATIONAL, target=target)

    def of(self, kind: type[Contract]) -> dict[str, Contract]:
        return {str(t): p for p, t in self.messages if isinstance(p, kind)}


async def test_each_county_gets_one_message_with_what_national_answers_for_it(
    national: NationalDriver,
) -> None:
    a = await enrol(national, SCHOOL, name="甲")
    await enrol(national, SCHOOL, name="乙")
    c = await enrol(national, OTHER_SCHOOL_SAME_COUNTY, grade=2, name="丙")
    await enrol(national, HENAN_OTHER_COUNTY, name="丁")
    await enrol(national, ZHEJIANG_SCHOOL, name="戊")
    await transfer(national, a, ZHEJIANG_SCHOOL)
    await change(national, c, status="suspended")
    today = datetime.now(UTC).astimezone(CHINA).date()

    sent = Sent()
    async with national.sessions() as session:
        published = await publish_day(session, sent, FEDERATION, today, datetime.now(UTC))
        by = ("school", "grade", "gender", "status")
        expected = await statistics.headcount(
            session, FEDERATION, COUNTY, by, statistics.end_of_day(today)
        )
        moved = await statistics.movements(session, FEDERATION, COUNTY, today, today)

    counties = sent.of(CountyFigures)
    hosted = [
        c.code
        for c in FEDERATION.counties
        if FEDERATION.instance_hosting(UnitRef(tier=Tier.COUNTY, code=c.code))
    ]
    assert sorted(counties) == sorted(f"county:{c}" for c in hosted)  # one message each
    assert published.counties == len(hosted)
    mine = counties["county:410102"]
    assert isinstance(mine, CountyFigures)
    assert sorted(mine.rows) == sorted(
        (r.keys["school"], r.keys["grade"], r.keys["gender"], r.keys["status"], r.students)
        for r in expected.rows
    )
    assert mine.movements.counts == moved.counts and mine.movements.counts["transfer_out"] == 1
    assert mine.movements.transfers == moved.transfers
    assert mine.movements.other_provinces == moved.other_provinces == {"in": {}, "out": {"33": 1}}
    for unit, figures in counties.items():  # nobody gets another county's schools
        assert isinstance(figures, CountyFigures)
        schools = {row[0] for row in figures.rows}
        assert {FEDERATION.school(s).county for s in schools} <= {unit.split(":")[1]}  # type: ignore[union-attr]

    henan = sent.of(ProvinceFigures)["province:41"]
    assert isinstance(henan, ProvinceFigures)
    per_county: Counter[str] = Counter()
    for row in henan.rows:
        per_county[row[0]] += row[4]
    assert per_county["410102"] == sum(row[4] for row in mine.rows)
    assert {row[0][:2] for row in henan.rows} == {"41"}


async def test_the_days_movements_are_classified_without_listing_a_countys_schools(
    national: NationalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A country's counties hold ~500,000 schools: the daily figures ask each moved school's
    county, and never list a county's schools to find out (the school directory would read
    them all, every day)."""
    a = await enrol(national, SCHOOL, name="甲")
    b = await enrol(national, SCHOOL, name="乙")
    await enrol(national, OTHER_SCHOOL_SAME_COUNTY, name="丙")
    await transfer(national, a, ZHEJIANG_SCHOOL)
    await transfer(national, b, HENAN_OTHER_COUNTY)
    today = datetime.now(UTC).astimezone(CHINA).date()
    async with national.sessions() as session:  # what a county's own report answers
        expected = {
            unit: await statistics.movements(session, FEDERATION, unit, today, today)
            for unit in (COUNTY, UnitRef(tier=Tier.COUNTY, code=HENAN_OTHER_COUNTY[:6]))
        }

    def listing(self: Federation, code: str) -> list[School]:
        raise AssertionError(f"the schools under {code} were listed")

    monkeypatch.setattr(Federation, "schools_under", listing)
    sent = Sent()
    async with national.sessions() as session:
        await publish_day(session, sent, FEDERATION, today, datetime.now(UTC))

    counties = sent.of(CountyFigures)
    for unit, moved in expected.items():
        figures = counties[str(unit)]
        assert isinstance(figures, CountyFigures)
        assert figures.movements.counts == moved.counts
        assert figures.movements.transfers == moved.transfers
        assert figures.movements.other_provinces == moved.other_provinces
    mine = counties[str(COUNTY)]
    assert isinstance(mine, CountyFigures)
    assert mine.movements.counts["transfer_out"] == 2  # to Zhejiang and to the other county
    assert mine.movements.transfers["out"] == {
        "within_county": 0, "cross_county": 1, "cross_province": 1
    }  # fmt: skip


async def test_a_county_of_a_thousand_schools_is_one_bounded_message() -> None:
    """The size a county's message has at national scale: 1,000 schools, six grades, two
    genders, enrolled and suspended (24,000 rows)."""
    rows = tuple(
        (f"41010{i:05d}", grade, gender, status, 37)
        for i in range(1000)
        for grade in range(1, 7)
        for gender in ("male", "female")
        for status in ("enrolled", "suspended")
    )
    figures = CountyFigures(
        county_code="410102",
        period=datetime.now(UTC).date(),
        computed_at=datetime.now(UTC),
        as_of=datetime.now(UTC),
        rows=rows,  # type: ignore[arg-type]
        movements={"counts": {}, "transfers": {}, "other_provinces": {}},  # type: ignore[arg-type]
    )
    size = len(json.dumps(figures.model_dump(mode="json"), separators=(",", ":")))
    assert len(rows) == 24_000 and size < 1_000_000, size


async def test_an_alert_is_sent_to_the_schools_authority_once_with_its_figures(
    national: NationalDriver,
) -> None:
    numbers = [await enrol(national, OTHER_SCHOOL_SAME_COUNTY, name=f"新{i}") for i in range(13)]
    async with national.sessions() as session, session.begin():
        for weeks_ago, number in ((3, numbers[0]), (5, numbers[1])):
            moment = datetime.now(UTC) - timedelta(weeks=weeks_ago)
            entry = await session.scalar(
                select(RegistryEntry.entry_id).where(RegistryEntry.student_number == number)
            )
            await session.execute(
                update(RegistryPeriod)
                .where(RegistryPeriod.entry_id == entry)
                .values(valid_from=moment)
            )
    today = datetime.now(UTC).astimezone(CHINA).date()
    monday = today - timedelta(days=today.weekday())
    sent, again = Sent(), Sent()
    async with national.sessions() as session, session.begin():
        await statistics.scan_warnings(session, FEDERATION, monday, datetime.now(UTC), sent)
        await statistics.scan_warnings(session, FEDERATION, monday, datetime.now(UTC), again)
    [(alert, target)] = [
        (p, t)
        for p, t in sent.messages
        if getattr(p, "school_code", "") == OTHER_SCHOOL_SAME_COUNTY
    ]
    assert isinstance(alert, AlertRaised) and target == COUNTY
    assert (alert.kind, alert.week_start, alert.observed, alert.weeks) == (
        "registrations", monday, 11, 8,
    )  # fmt: skip
    assert (alert.mean, alert.stdev, alert.threshold) == (0.25, 0.43, 10.0)
    assert alert.article == "N2025 art. 23"
    assert again.messages == []  # recorded and sent once
