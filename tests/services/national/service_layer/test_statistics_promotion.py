"""Statistics across August 10 promotions on a real national database (SQLite, PostgreSQL):
the run writes no status period, and every answer still counts each student in the grade the
registry had at that moment — the census before, between and after two runs, today's count
from the roll-up, the roll-up itself against a recount, a student who transfers after a
promotion, and the promotion among the movements (decision 0046)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from services.national.adapters.orm import HeadcountRollup, RegistryEntry, RegistryPeriod
from services.national.service_layer import statistics
from services.national.service_layer.promotion import PromotionReport, run_promotion
from shared.clock import CHINA
from shared.federation.config import Tier, UnitRef
from tests.services.national.builders import (
    FEDERATION,
    HENAN_OTHER_COUNTY,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    NationalDriver,
    enrol,
    of_type,
    transfer_request,
)
from tests.services.national.service_layer.test_statistics import COUNTY, HENAN, change, counts
from tests.services.national.service_layer.test_transfers import approve_all

JUNIOR = OTHER_SCHOOL_SAME_COUNTY  # grades 7-9


async def promote(national: NationalDriver, school_year: int) -> PromotionReport:
    async with national.sessions() as session, session.begin():
        report = await run_promotion(
            session, FEDERATION, school_year, date(school_year, 8, 10), datetime.now(UTC)
        )
    assert report.ran
    return report


async def periods(national: NationalDriver) -> int:
    async with national.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RegistryPeriod)) or 0)


async def recount(national: NationalDriver, schools: tuple[str, ...]) -> dict[tuple[int], int]:
    """The registry itself, by grade: what every count of today must equal."""
    async with national.sessions() as session:
        rows = await session.execute(
            select(RegistryEntry.grade, func.count())
            .where(RegistryEntry.school_code.in_(schools))
            .group_by(RegistryEntry.grade)
        )
        return {(int(grade),): int(n) for grade, n in rows}


async def rolled_up(national: NationalDriver) -> Counter[tuple[object, ...]]:
    async with national.sessions() as session:
        rows = await session.execute(
            select(
                HeadcountRollup.school_code,
                HeadcountRollup.grade,
                HeadcountRollup.status,
                HeadcountRollup.gender,
                HeadcountRollup.students,
            )
        )
        found: Counter[tuple[object, ...]] = Counter()
        for row in rows:
            found[tuple(row[:4])] += int(row[4])
        return found


async def registry_counts(national: NationalDriver) -> Counter[tuple[object, ...]]:
    async with national.sessions() as session:
        rows = await session.execute(
            select(
                RegistryEntry.school_code,
                RegistryEntry.grade,
                RegistryEntry.status,
                RegistryEntry.gender,
                func.count(),
            ).group_by(
                RegistryEntry.school_code,
                RegistryEntry.grade,
                RegistryEntry.status,
                RegistryEntry.gender,
            )
        )
        return Counter({tuple(r[:4]): int(r[4]) for r in rows})


async def roll_up(national: NationalDriver) -> statistics.RollupReport:
    async with national.sessions() as session, session.begin():
        return await statistics.roll_up(session, datetime.now(UTC), datetime.now(UTC))


async def test_the_census_by_grade_before_between_and_after_two_promotions(
    national: NationalDriver,
) -> None:
    for grade in (1, 5, 6):
        await enrol(national, SCHOOL, grade=grade, name=f"升{grade}")
    held_back = await enrol(national, SCHOOL, grade=2, name="休学")
    await change(national, held_back, status="suspended")
    await enrol(national, JUNIOR, grade=7, name="初一")
    schools = (SCHOOL, JUNIOR)
    before = datetime.now(UTC)
    written = await periods(national)

    first = await promote(national, 2026)
    between = datetime.now(UTC)
    second = await promote(national, 2027)

    assert (first.promoted, second.promoted) == (3, 2)  # grade 6 and the suspended stay
    assert await periods(national) == written  # the runs wrote no status period
    by_grade = ("grade",)
    assert await counts(national, COUNTY, by_grade, before) == {
        (1,): 1, (2,): 1, (5,): 1, (6,): 1, (7,): 1,
    }  # fmt: skip
    assert await counts(national, COUNTY, by_grade, between) == {
        (2,): 2, (6,): 2, (8,): 1,
    }  # fmt: skip
    assert await counts(national, COUNTY, by_grade, datetime.now(UTC)) == {
        (2,): 1, (3,): 1, (6,): 2, (9,): 1,
    }  # fmt: skip
    assert await counts(national, COUNTY, by_grade) == await recount(national, schools)
    assert await counts(national, COUNTY, ("grade", "status")) == {
        (2, "suspended"): 1, (3, "enrolled"): 1, (6, "enrolled"): 2, (9, "enrolled"): 1,
    }  # fmt: skip
    assert await counts(national, COUNTY, ("status",), between) == {
        ("enrolled",): 4, ("suspended",): 1,
    }  # fmt: skip


async def test_the_rollup_after_a_promotion_equals_a_full_recount(
    national: NationalDriver,
) -> None:
    first, *_ = [await enrol(national, SCHOOL, grade=g, name=f"卷{g}") for g in (1, 3, 6)]
    await enrol(national, JUNIOR, grade=8, name="卷8")
    leaving = await enrol(national, SCHOOL, grade=4, name="卷4")
    await roll_up(national)  # the watermark before the run
    await promote(national, 2026)
    # after the run, before the next roll-up: the counts at the watermark, moved by the run
    assert await counts(national, COUNTY, ("grade",)) == await recount(national, (SCHOOL, JUNIOR))
    await change(national, leaving, status="dropout")  # a period begun before the promotion ends
    await enrol(national, SCHOOL, grade=1, name="卷新")

    step = await roll_up(national)

    assert not step.full and (step.periods_begun, step.periods_ended) == (2, 1)
    assert await rolled_up(national) == await registry_counts(national)
    assert await counts(national, COUNTY, ("grade", "status")) == {
        (1, "enrolled"): 1, (2, "enrolled"): 1, (4, "enrolled"): 1, (5, "dropout"): 1,
        (6, "enrolled"): 1, (9, "enrolled"): 1,
    }  # fmt: skip
    # today = the roll-up + the periods since: one begun before the run ends at its moved grade
    await change(national, first, status="suspended")
    assert await counts(national, COUNTY, ("grade", "status")) == {
        (1, "enrolled"): 1, (2, "suspended"): 1, (4, "enrolled"): 1, (5, "dropout"): 1,
        (6, "enrolled"): 1, (9, "enrolled"): 1,
    }  # fmt: skip
    await promote(national, 2027)
    await roll_up(national)
    assert await rolled_up(national) == await registry_counts(national)


async def test_the_first_rollup_after_promotions_counts_the_moved_grades(
    national: NationalDriver,
) -> None:
    await enrol(national, SCHOOL, grade=2, name="首卷")
    await promote(national, 2026)
    full = await roll_up(national)
    assert full.full
    assert await rolled_up(national) == await registry_counts(national)


async def test_a_student_who_transfers_after_a_promotion_is_counted_in_the_right_grade(
    national: NationalDriver,
) -> None:
    number = await enrol(national, SCHOOL, grade=3, name="转学生")
    before = datetime.now(UTC)
    await promote(national, 2026)
    promoted = datetime.now(UTC)
    done = await approve_all(
        national,
        await national.request(transfer_request(number, SCHOOL, HENAN_OTHER_COUNTY, grade=4)),
    )
    assert of_type(done, "transfer.completed")
    moved = datetime.now(UTC)
    await promote(national, 2027)

    here = ("school", "grade")
    assert (await national.entry(number)).grade == 5
    assert await counts(national, HENAN, here, before) == {(SCHOOL, 3): 1}
    assert await counts(national, HENAN, here, promoted) == {(SCHOOL, 4): 1}
    assert await counts(national, HENAN, here, moved) == {(HENAN_OTHER_COUNTY, 4): 1}
    assert await counts(national, HENAN, here) == {(HENAN_OTHER_COUNTY, 5): 1}
    today = datetime.now(UTC).astimezone(CHINA).date()
    async with national.sessions() as session:
        moves = await statistics.movements(session, FEDERATION, HENAN, today, today)
    assert moves.counts["transfer_out"] == 1 and moves.counts["transfer_in"] == 1
    assert moves.counts["promoted"] == 2  # once at each school


async def test_movements_report_the_promotion_from_its_records(national: NationalDriver) -> None:
    for grade in (1, 2, 6):
        await enrol(national, SCHOOL, grade=grade, name=f"动{grade}")
    await enrol(national, JUNIOR, grade=7, name="动7")
    await promote(national, 2026)
    corrected = await enrol(national, SCHOOL, grade=4, name="改年级")
    await change(national, corrected, grade=5)  # any other grade change is still a period

    today = datetime.now(UTC).astimezone(CHINA).date()
    async with national.sessions() as session:
        county = await statistics.movements(session, FEDERATION, COUNTY, today, today)
        school = await statistics.movements(
            session, FEDERATION, UnitRef(tier=Tier.SCHOOL, code=JUNIOR), today, today
        )
        january = await statistics.movements(
            session, FEDERATION, COUNTY, date(2026, 1, 1), date(2026, 1, 2)
        )
    assert county.counts["promoted"] == 4  # 3 promoted by the run, 1 changed by hand
    assert county.counts["registered"] == 5
    assert county.daily[today]["promoted"] == 4
    assert school.counts["promoted"] == 1
    assert january.counts["promoted"] == 0
