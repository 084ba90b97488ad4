"""Basic statistics from a real national database (SQLite, PostgreSQL): the status history the
triggers keep, the census at a past moment, the roll-up applied without a recount, movements
and their kinds, suppression of small counts, early warning (decision 0039)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update

from services.national.adapters.orm import RegistryEntry, RegistryPeriod
from services.national.service_layer import statistics
from shared.clock import CHINA
from shared.federation.config import NATIONAL, Tier, UnitRef
from tests.services.national.builders import (
    FEDERATION,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    count_rows_read,
    enrol,
    of_type,
    transfer_request,
)
from tests.services.national.service_layer.test_transfers import approve_all

COUNTY = UnitRef(tier=Tier.COUNTY, code="410102")
HENAN = UnitRef(tier=Tier.PROVINCE, code="41")
ZHEJIANG = UnitRef(tier=Tier.PROVINCE, code="33")


async def change(national: NationalDriver, number: str, **values: object) -> None:
    """A status (or grade) change as the pipeline writes it: with ``updated_at``."""
    async with national.sessions() as session, session.begin():
        await session.execute(
            update(RegistryEntry)
            .where(RegistryEntry.student_number == number)
            .values(**values, updated_at=datetime.now(UTC))
        )


async def counts(
    national: NationalDriver, unit: UnitRef, by: tuple[str, ...], as_of: datetime | None = None
) -> dict[tuple[object, ...], int | None]:
    async with national.sessions() as session:
        found = await statistics.headcount(session, FEDERATION, unit, by, as_of)
    return {tuple(r.keys[d] for d in by): r.students for r in found.rows}


async def transfer(national: NationalDriver, number: str, to_school: str) -> None:
    done = await approve_all(
        national, await national.request(transfer_request(number, SCHOOL, to_school))
    )
    assert of_type(done, "transfer.completed")


async def test_the_census_before_and_after_a_transfer_and_every_levels_counts(
    national: NationalDriver,
) -> None:
    a = await enrol(national, SCHOOL, name="甲")
    b = await enrol(national, SCHOOL, name="乙")
    c = await enrol(national, SCHOOL, name="丙")
    await enrol(national, ZHEJIANG_SCHOOL, name="丁")
    before = datetime.now(UTC)
    await transfer(national, a, OTHER_SCHOOL_SAME_COUNTY)
    await transfer(national, b, ZHEJIANG_SCHOOL)
    await change(national, c, status="suspended")

    assert await counts(national, COUNTY, ("school", "status")) == {
        (SCHOOL, "suspended"): 1,
        (OTHER_SCHOOL_SAME_COUNTY, "enrolled"): 1,
    }
    assert await counts(national, COUNTY, ("school",), before) == {(SCHOOL,): 3}
    assert await counts(national, ZHEJIANG, ("grade",)) == {(1,): 2}
    assert await counts(national, ZHEJIANG, ("grade",), before) == {(1,): 1}
    assert await counts(national, NATIONAL, ("province", "status")) == {
        ("33", "enrolled"): 2,
        ("41", "enrolled"): 1,
        ("41", "suspended"): 1,
    }
    assert await counts(national, NATIONAL, ("temporary",), before) == {(False,): 4}

    today = datetime.now(UTC).astimezone(CHINA).date()
    async with national.sessions() as session:
        moved = await statistics.movements(session, FEDERATION, COUNTY, today, today)
        henan = await statistics.movements(session, FEDERATION, HENAN, today, today)
    assert moved.counts["registered"] == 3
    assert moved.counts["transfer_out"] == 2 and moved.counts["transfer_in"] == 1
    assert moved.transfers["in"]["within_county"] == 1
    assert moved.transfers["out"] == {"within_county": 1, "cross_county": 0, "cross_province": 1}
    assert moved.other_provinces["out"] == {"33": 1}
    assert moved.counts["suspended"] == 1
    assert moved.daily == {today: {k: n for k, n in moved.counts.items() if n}}
    assert henan.counts["transfer_out"] == 2 and henan.counts["transfer_in"] == 1


async def test_the_rollup_applies_the_movements_since_its_watermark_without_a_recount(
    national: NationalDriver,
) -> None:
    first = [await enrol(national, SCHOOL, name=f"学生{i}") for i in range(3)]
    async with national.sessions() as session, session.begin():
        full = await statistics.roll_up(session, datetime.now(UTC), datetime.now(UTC))
    assert full.full and full.periods_begun == 3
    await change(national, first[0], status="dropout")
    await enrol(national, SCHOOL, name="学生3")
    # today = roll-up + the periods since its watermark, before and after rolling forward
    expected = {("enrolled",): 3, ("dropout",): 1}
    assert await counts(national, COUNTY, ("status",)) == expected
    async with national.sessions() as session, session.begin():
        step = await statistics.roll_up(session, datetime.now(UTC), datetime.now(UTC))
    assert (step.full, step.periods_begun, step.periods_ended) == (False, 2, 1)
    assert await counts(national, COUNTY, ("status",)) == expected
    async with national.sessions() as session:
        periods = await session.scalar(select(func.count()).select_from(RegistryPeriod))
    assert periods == 5  # four registrations, one change: history, never rewritten


async def test_small_counts_are_hidden_from_everyone_but_the_unit_itself(
    national: NationalDriver,
) -> None:
    await enrol(national, SCHOOL, name="戊")
    async with national.sessions() as session:
        own = await statistics.headcount(session, FEDERATION, COUNTY, ("grade",))
        other = await statistics.headcount(session, FEDERATION, COUNTY, ("grade",), own_unit=False)
    assert own.rows[0].students == 1 and own.total == 1
    assert other.rows[0].students is None and other.total is None and other.suppressed


async def test_a_week_far_above_a_schools_history_raises_one_alert_to_its_authority(
    national: NationalDriver,
) -> None:
    numbers = [await enrol(national, OTHER_SCHOOL_SAME_COUNTY, name=f"新{i}") for i in range(13)]
    # two of them registered weeks ago: the school's usual pace
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
    async with national.sessions() as session, session.begin():
        raised = await statistics.scan_warnings(session, FEDERATION, monday, datetime.now(UTC))
        again = await statistics.scan_warnings(session, FEDERATION, monday, datetime.now(UTC))
    [alert] = [a for a in raised if a.school_code == OTHER_SCHOOL_SAME_COUNTY]
    assert (alert.kind, alert.observed, alert.authority_unit) == ("registrations", 11, str(COUNTY))
    assert alert.baseline == 0.25 and alert.threshold == 10.0
    async with national.sessions() as session:
        seen = await statistics.alerts(session, FEDERATION, COUNTY, monday)
        beside = await statistics.alerts(session, FEDERATION, ZHEJIANG, monday)
    assert [a.alert_id for a in seen] == [alert.alert_id]  # recorded once
    assert len(again) == 1 and beside == []


async def registered_at(national: NationalDriver, numbers: list[str], moment: datetime) -> None:
    """Move the registration periods of ``numbers`` to ``moment``."""
    async with national.sessions() as session, session.begin():
        entries = select(RegistryEntry.entry_id).where(RegistryEntry.student_number.in_(numbers))
        await session.execute(
            update(RegistryPeriod)
            .where(RegistryPeriod.entry_id.in_(entries))
            .values(valid_from=moment)
        )


async def test_the_warning_scan_counts_in_the_database_a_row_per_school_and_kind(
    national: NationalDriver,
) -> None:
    """The scan reads a school's weekly counts, not its registrations: in September the
    country registers ~17 million first-graders. A week starts at Beijing midnight."""
    today = datetime.now(UTC).astimezone(CHINA).date()
    monday = today - timedelta(days=today.weekday())
    week_start = datetime.combine(monday, datetime.min.time(), CHINA).astimezone(UTC)
    busy = [await enrol(national, OTHER_SCHOOL_SAME_COUNTY, name=f"新{i}") for i in range(12)]
    quiet = [await enrol(national, SCHOOL, name=f"静{i}") for i in range(4)]
    await registered_at(national, busy[:11], week_start)  # the first instant of the week
    await registered_at(national, busy[11:], week_start - timedelta(microseconds=1))
    await registered_at(national, quiet, week_start)  # under the floor: no row at all

    async with national.sessions() as session, session.begin():
        fetched = count_rows_read(session)
        raised = await statistics.scan_warnings(session, FEDERATION, monday, datetime.now(UTC))

    assert fetched[0] == 1  # one school and kind over the floor; 16 registrations counted
    [alert] = raised
    assert (alert.school_code, alert.kind, alert.observed) == (
        OTHER_SCHOOL_SAME_COUNTY, "registrations", 11
    )  # fmt: skip
    # a microsecond before the week is the Sunday before: 1 registration over 8 weeks
    assert (alert.baseline, alert.stdev) == (round(1 / 8, 2), round((7 / 64) ** 0.5, 2))


def test_the_threshold_is_three_deviations_three_means_and_never_under_the_floor() -> None:
    assert statistics.alert_threshold([0] * 8) == (0.0, 10.0)
    mean, threshold = statistics.alert_threshold([10, 30] * 4)
    assert mean == 20.0 and threshold == 60.0
    assert statistics.end_of_day(date(2026, 9, 30)) == datetime(
        2026, 9, 30, 15, 59, 59, 999999, tzinfo=UTC
    )


def test_a_provinces_schools_are_the_range_of_codes_it_begins_in_any_collation() -> None:
    """Digits only, so the bound holds whatever the database's collation orders punctuation."""
    assert [statistics._after_prefix(p) for p in ("41", "49", "09", "99")] == [
        "42", "50", "10", None
    ]  # fmt: skip
