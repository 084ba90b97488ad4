"""The August 10 batch promotion against a real national database (SQLite, PostgreSQL): who
moves up and who does not, one run per school year, the report, one message per school, and
students held by a transfer (the grade follows the student, the transfer's grade with them).
The plan is also tested on its own, with stages the repository's federation does not have."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select, text

from services.national.adapters.orm import PromotionSchool, RegistryEntry, metadata
from services.national.service_layer.promotion import (
    HeldRow,
    PromotionReport,
    plan_promotion,
    run_promotion,
    stored_report,
)
from shared.contracts.promotion import ProvincePromoted, province_promotion_message_id
from shared.contracts.status import RegistryPromoted, promotion_message_id, promotion_run_id
from shared.db.engine import SessionFactory
from shared.db.list_versions import list_version_metadata
from shared.federation.config import Federation
from shared.messaging.envelope import Envelope
from shared.runtime.errors import DomainError
from tests.services.national.builders import (
    FEDERATION,
    HENAN_OTHER_COUNTY,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    NationalDriver,
    basic,
    batch,
    of_type,
    outcomes_of,
    transfer_request,
)

JUNIOR = OTHER_SCHOOL_SAME_COUNTY  # 4101020002, stage junior (grades 7-9)
AUGUST_10 = date(2026, 8, 10)
NOW = datetime(2026, 8, 10, 16, 0, tzinfo=UTC)  # 24:00 in Beijing


async def register(national: NationalDriver, school: str, *grades: int) -> list[str]:
    """One batch of students at ``school`` in ``grades``; their student numbers, in order."""
    infos = [
        basic("李明", birth=date(2019 - g, 1, 1) + timedelta(days=i), grade=g)
        for i, g in enumerate(grades)
    ]
    envelopes = await national.deliver(batch(*infos, school=school))
    outcomes = outcomes_of(envelopes[0])
    assert all(o["outcome"] == "issued" for o in outcomes), outcomes
    return [o["student_number"] for o in outcomes]


async def promote(
    national: NationalDriver, school_year: int = 2026, as_of: date = AUGUST_10
) -> tuple[PromotionReport, list[Envelope]]:
    before = await national.last_outbox_id()
    async with national.sessions() as session, session.begin():
        report = await run_promotion(session, FEDERATION, school_year, as_of, NOW)
    return report, await national.staged_since(before)


async def grades(national: NationalDriver, numbers: list[str]) -> list[int]:
    return [(await national.entry(n)).grade for n in numbers]


# -- who moves up ---------------------------------------------------------------------------


async def test_every_enrolled_student_below_the_graduating_grade_moves_up_one(
    national: NationalDriver,
) -> None:
    primary = await register(national, SCHOOL, 1, 2, 3, 4, 5, 5, 6)
    junior = await register(national, JUNIOR, 7, 8, 9)

    report, _ = await promote(national)

    assert await grades(national, primary) == [2, 3, 4, 5, 6, 6, 6]  # grade 6 graduates
    assert await grades(national, junior) == [8, 9, 9]  # grade 9 graduates
    assert report.ran and report.promoted == 8
    assert report.by_grade == {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 7: 1, 8: 1}
    entry = await national.entry(primary[0])
    assert entry.updated_at.replace(tzinfo=UTC) == NOW  # SQLite drops the zone


async def test_graduates_deceased_and_every_other_status_are_never_touched(
    national: NationalDriver,
) -> None:
    numbers = await register(national, SCHOOL, 6, 6, 6, 3, 3, 3, 3, 3, 3, 3, 3)
    statuses = ["graduated", "completed", "incomplete", "deceased", "suspended", "dropout"]
    statuses += ["suspected_dropout", "other_departure", "abroad", "deferred", "enrolled"]
    for number, status in zip(numbers, statuses, strict=True):
        await national.set_status(number, status)
    before = {n: (await national.entry(n)).updated_at for n in numbers}

    report, _ = await promote(national)

    assert await grades(national, numbers) == [6, 6, 6, 3, 3, 3, 3, 3, 3, 3, 4]
    assert report.promoted == 1
    for number in numbers[:-1]:
        assert (await national.entry(number)).updated_at == before[number]


async def test_the_report_lists_who_stayed_in_the_graduating_grade(
    national: NationalDriver,
) -> None:
    """Enrolled in grade 6 on August 10: graduation was not recorded by July 30."""
    await register(national, SCHOOL, 6, 6, 2)
    await register(national, JUNIOR, 9)

    report, _ = await promote(national)

    assert [(c.school_code, c.count) for c in report.graduating] == [(SCHOOL, 2), (JUNIOR, 1)]
    assert report.not_in_batch == [] and report.promoted == 1
    assert report.schools == len(FEDERATION.schools)


async def test_a_school_the_federation_does_not_know_is_left_alone_and_reported(
    national: NationalDriver,
) -> None:
    [number] = await register(national, SCHOOL, 2)
    async with national.sessions() as session, session.begin():
        await session.execute(
            RegistryEntry.__table__.update().values(school_code="4199990001")  # type: ignore[attr-defined]
        )

    report, _ = await promote(national)

    assert await grades(national, [number]) == [2]
    assert [(c.school_code, c.count, c.stage) for c in report.not_in_batch] == [
        ("4199990001", 1, None)
    ]


# -- once per school year -------------------------------------------------------------------


async def test_a_second_run_for_the_same_year_does_nothing_and_says_so(
    national: NationalDriver,
) -> None:
    numbers = await register(national, SCHOOL, 1, 4)
    first, _ = await promote(national)

    again, again_messages = await promote(national, as_of=date(2026, 8, 11))

    assert await grades(national, numbers) == [2, 5]
    assert not again.ran and again_messages == []
    assert (again.promoted, again.by_grade, again.as_of) == (2, {1: 1, 4: 1}, AUGUST_10)
    assert again.ran_at == first.ran_at and again.messages == first.messages
    async with national.sessions() as session:
        stored = await stored_report(session, 2026)
        ledger = await session.scalar(select(func.count()).select_from(PromotionSchool))
    assert stored is not None and stored.promoted == 2
    assert ledger == len(FEDERATION.schools)

    next_year, _ = await promote(national, 2027, date(2027, 8, 10))
    assert next_year.ran and await grades(national, numbers) == [3, 6]


@pytest.mark.parametrize(
    ("school_year", "as_of", "rule"),
    [
        (2026, date(2026, 8, 9), "before_promotion_day"),
        (2026, date(2026, 7, 30), "before_promotion_day"),
        (2026, date(2027, 8, 10), "school_year_mismatch"),
    ],
)
async def test_the_run_belongs_to_its_school_year_on_or_after_august_10(
    national: NationalDriver, school_year: int, as_of: date, rule: str
) -> None:
    [number] = await register(national, SCHOOL, 1)
    with pytest.raises(DomainError) as refused:
        await promote(national, school_year, as_of)
    assert refused.value.rule == rule
    assert await grades(national, [number]) == [1]


# -- telling the schools --------------------------------------------------------------------


async def test_one_message_per_school_with_the_grade_mapping_and_the_counts(
    national: NationalDriver,
) -> None:
    await register(national, SCHOOL, 1, 1, 5, 6)
    await register(national, JUNIOR, 7, 9)

    report, everything = await promote(national)

    staged = of_type(everything, "registry.promoted")
    provinces = of_type(everything, "registry.province_promoted")
    assert len(staged) + len(provinces) == len(everything) and report.messages == len(staged)
    assert Counter(str(e.target) for e in staged) == Counter(
        f"school:{s.code}" for s in FEDERATION.schools
    )
    by_school = {e.target.code: RegistryPromoted.model_validate(e.payload) for e in staged}
    assert by_school[SCHOOL].graduating_grade == 6
    assert [(c.grade, c.count) for c in by_school[SCHOOL].promoted] == [(1, 2), (5, 1)]
    assert by_school[JUNIOR].graduating_grade == 9 and by_school[JUNIOR].total == 1
    assert by_school[HENAN_OTHER_COUNTY].promoted == ()  # told too: nothing moved there
    for envelope in staged:
        assert envelope.message_id == promotion_message_id(2026, envelope.target.code)
        assert envelope.correlation_id == promotion_run_id(2026)
        assert str(envelope.source) == "national:CN"
        assert envelope.payload["school_year"] == 2026
        assert "student_number" not in str(envelope.payload)


async def test_one_message_per_province_with_its_schools(national: NationalDriver) -> None:
    await register(national, SCHOOL, 1, 1, 5, 6)
    report, everything = await promote(national)

    provinces = of_type(everything, "registry.province_promoted")
    assert sorted(str(e.target) for e in provinces) == ["province:33", "province:41", "province:51"]
    assert report.province_messages == 3
    [henan] = [
        ProvincePromoted.model_validate(e.payload) for e in provinces if e.target.code == "41"
    ]
    schools = {s.school_code: s for s in henan.schools}
    assert set(schools) == {s.code for s in FEDERATION.schools if s.province == "41"} - {
        s.code for s in FEDERATION.schools if s.stage == "special"
    }
    assert [(c.grade, c.count) for c in schools[SCHOOL].promoted] == [(1, 2), (5, 1)]
    for envelope in provinces:
        assert envelope.message_id == province_promotion_message_id(2026, envelope.target.code)
        assert "student_number" not in str(envelope.payload)


# -- students held by a transfer ------------------------------------------------------------


async def test_a_student_held_by_a_transfer_moves_up_with_the_transfers_grade(
    national: NationalDriver,
) -> None:
    held, other = await register(national, SCHOOL, 3, 3)
    request = transfer_request(held, grade=3)
    opened = await national.request(request)
    assert of_type(opened, "transfer.step_opened")

    report, _ = await promote(national, 2027, date(2027, 8, 10))

    assert await grades(national, [held, other]) == [4, 4]
    assert (await national.transfer(request.transfer_id)).record.grade == 4
    [listed] = report.in_transfer
    assert (listed.student_number, listed.from_grade, listed.transfer_id) == (
        held, 3, str(request.transfer_id),
    )  # fmt: skip
    assert listed.to_school == HENAN_OTHER_COUNTY and listed.fits_receiving_school

    envelopes = opened
    while step := of_type(envelopes, "transfer.step_opened"):
        envelopes = await national.decide(step[0])
    [completed, *_] = of_type(envelopes, "transfer.completed")
    assert completed.payload["grade"] == 4  # the completion keeps the promotion
    entry = await national.entry(held)
    assert (entry.school_code, entry.grade) == (HENAN_OTHER_COUNTY, 4)


async def test_a_closed_transfer_is_not_touched(national: NationalDriver) -> None:
    [number] = await register(national, SCHOOL, 2)
    request = transfer_request(number, grade=2)
    opened = await national.request(request)
    await national.decide(of_type(opened, "transfer.step_opened")[0], approve=False)

    report, _ = await promote(national, 2027, date(2027, 8, 10))

    assert await grades(national, [number]) == [3]
    assert (await national.transfer(request.transfer_id)).record.grade == 2
    assert report.in_transfer == []


# -- the plan on its own --------------------------------------------------------------------


def federation_with(*schools: tuple[str, str]) -> Federation:
    return Federation.model_validate(
        {
            "province": [{"code": "41", "name": "河南省"}],
            "county": [{"code": "410102", "name": "中原区", "province": "41"}],
            "school": [
                {"code": code, "name": code, "county": "410102", "stage": stage}
                for code, stage in schools
            ],
        }
    )


def test_the_plan_uses_each_stages_graduating_grade_and_leaves_special_schools_alone() -> None:
    federation = federation_with(
        ("4101020011", "primary"),
        ("4101020012", "junior"),
        ("4101020013", "nine_year"),
        ("4101020014", "senior"),
        ("4101020015", "special"),
    )
    enrolled = [
        ("4101020011", 5, 10), ("4101020011", 6, 3),
        ("4101020012", 8, 20), ("4101020012", 9, 4),
        ("4101020013", 6, 30), ("4101020013", 9, 5),
        ("4101020014", 11, 40), ("4101020014", 12, 6),
        ("4101020015", 3, 7),
    ]  # fmt: skip

    plan = plan_promotion(federation, enrolled, [])

    assert plan.graduating_grade == {
        "4101020011": 6, "4101020012": 9, "4101020013": 9, "4101020014": 12,
    }  # fmt: skip
    assert plan.promoted == {
        "4101020011": {5: 10}, "4101020012": {8: 20}, "4101020013": {6: 30},
        "4101020014": {11: 40},
    }  # fmt: skip
    assert plan.total == 100 and plan.by_grade() == {5: 10, 6: 30, 8: 20, 11: 40}
    assert [(c.school_code, c.count) for c in plan.graduating] == [
        ("4101020011", 3), ("4101020012", 4), ("4101020013", 5), ("4101020014", 6),
    ]  # fmt: skip
    assert [(c.school_code, c.count, c.stage) for c in plan.not_in_batch] == [
        ("4101020015", 7, "special")
    ]


def test_a_held_student_whose_receiving_school_does_not_teach_the_new_grade_is_flagged() -> None:
    federation = federation_with(("4101020013", "nine_year"), ("4101020011", "primary"))
    held = [
        HeldRow("G1", "4101020013", 6, "t-1", "4101020011"),  # grade 7 at a primary school?
        HeldRow("G2", "4101020013", 5, "t-2", "4101020011"),
        HeldRow("G3", "4101020013", 9, "t-3", "4101020011"),  # graduating: not promoted
    ]

    plan = plan_promotion(federation, [("4101020013", 6, 1), ("4101020013", 5, 1)], held)

    assert [(h.student_number, h.fits_receiving_school) for h in plan.in_transfer] == [
        ("G1", False), ("G2", True),
    ]  # fmt: skip


# -- the schema -----------------------------------------------------------------------------


async def test_on_postgresql_the_promotion_touches_no_index(
    national: NationalDriver, national_url: str
) -> None:
    """``fillfactor = 50`` leaves room on each page and no index holds grade or updated_at:
    every promoted row is a heap-only (HOT) update."""
    if not national_url.startswith("postgresql"):
        pytest.skip("heap-only updates are PostgreSQL's")
    await register(national, SCHOOL, *([1, 2, 3, 4, 5] * 20))
    async with national.sessions() as session, session.begin():
        options = await session.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'registry_entry'")
        )
        report = await run_promotion(session, FEDERATION, 2026, AUGUST_10, NOW)
        updated, hot = (
            await session.execute(
                text(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                    "WHERE relname = 'registry_entry'"
                )
            )
        ).one()
    assert options == ["fillfactor=50"]
    assert report.promoted == updated == hot == 100


def _national_diffs(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(context, [metadata, list_version_metadata])  # type: ignore[arg-type]
    shared_tables = ("kernel_", "security_", "alembic_version")  # tested with their own models
    return [d for d in diffs if not any(name in repr(d) for name in shared_tables)]


async def test_the_migrated_schema_matches_the_models(sessions: SessionFactory) -> None:
    async with sessions() as session:
        connection = await session.connection()
        assert await connection.run_sync(_national_diffs) == []
