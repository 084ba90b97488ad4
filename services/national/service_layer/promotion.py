"""Use case: the August 10 batch promotion (升级) — LS 3(一), N2013 art. 12, ZJ art. 12.

Schools finish graduation by July 30; on August 10 the national system moves every
non-graduating ``enrolled`` student up one grade in one batch ("正常升级学生的学籍信息更新，由
电子学籍系统完成"). A school's graduating grade comes from its stage in the federation config:
6 at a primary school, 9 at a junior or nine-year school, 12 at a senior school. Students in
their graduating grade stay where they are (they graduate; graduates are never rolled back,
LS 3(一)); graduated, completed, incomplete and deceased records are never touched (the
UPDATE matches ``status = 'enrolled'`` only — see ``domain/status.py``).

Set-based, whatever the number of students — a fixed number of statements:

1. ``promotion_run`` gets the year's row (its key: a second run of the year does nothing and
   says so; a concurrent one waits on the key and gets 409).
2. PostgreSQL: ``LOCK TABLE registry_entry IN EXCLUSIVE MODE`` — readers go on, writers
   (registrations, transfer claims and completions) wait the minute the run takes, so the
   counts, the held students and the UPDATE all see the same registry. (SQLite has one writer.)
3. One ``GROUP BY school_code, grade`` of the enrolled students; one look-up of the students
   held by a transfer (a partial index, as small as the transfers in flight).
4. ``promotion_school``: one executemany of (school, graduating grade, count) for every school
   of the batch — the mapping is data the UPDATE joins, never one statement per school.
5. ONE ``UPDATE registry_entry SET grade = grade + 1 FROM promotion_school WHERE ...``; its row
   count must be the sum of step 3's counts, or the run fails and nothing is kept.
6. Students held by a transfer are promoted like everyone else — the grade follows the
   student — and their transfer's ``grade`` moves with them in the same transaction (a few
   ``UPDATE transfer ... WHERE transfer_id IN (...)``): the completion writes the transfer's
   grade into the registry, so an unchanged transfer would undo the promotion. They are listed
   in the report, flagged when the receiving school's stage does not teach the new grade (e.g.
   a nine-year school's grade 6 moving to a primary school) for the authorities to act on.
7. One ``registry.promoted`` per school (grade mapping and counts, not student numbers — see
   ``shared/contracts/status.py``) and one ``registry.province_promoted`` per province (its
   schools' mappings and counts: the province's view), staged in the outbox with one
   executemany, each with an id derived from (school or province, year) so that each is
   applied once.

Costs (``python -m bench.promotion``): 10,000,000 registry rows in 31 s on two shared cores
(1,000,000 in 2.3 s), with ``max_wal_size`` large enough that no checkpoint interrupts the
statement; the updates are heap-only (``registry_entry`` has ``fillfactor = 50`` and no
index on grade or status — the unclaimed list's partial index has status in its predicate
only, and the promotion never changes status; an index on ``(status, grade)`` made the same
run 15 times slower).

Statistics (decisions 0039, 0046): the run writes no status period. Before its UPDATE it
records, under the lock, the last period that exists (``promotion_run.last_period_id``); the
registry's update trigger recognises the run's grade-only changes (from that record and
``promotion_school`` on SQLite, from a setting of the run's own transaction on PostgreSQL)
and leaves them out, and the statistics move each period's grade up by
the runs since it was written (``grade_shift.py``). With the trigger writing one period per
promoted student the run was about eight times slower (43 s instead of 5.4 s at 1,000,000).

Known limits, for the transfer saga's owner: a transfer request checked against the old grade
and claimed right after the run commits keeps the old grade (the claim does not re-check it);
a saga transaction that holds a transfer row and waits for the registry lock at that instant
can deadlock with step 6 — PostgreSQL aborts one of the two, and an aborted run kept nothing
and can simply be run again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import (
    PromotionRun,
    PromotionSchool,
    RegistryEntry,
    RegistryPeriod,
    TransferRecord,
)
from services.national.domain.status import PROMOTABLE
from services.national.domain.transfer import ACTIVE
from services.national.domain.transfer_rules import GRADUATING_GRADE
from shared.contracts.promotion import (
    ProvincePromoted,
    SchoolPromotion,
    province_promotion_message_id,
)
from shared.contracts.status import (
    GradeCount,
    RegistryPromoted,
    promotion_message_id,
    promotion_run_id,
)
from shared.federation.config import NATIONAL, Federation, School, Tier, UnitRef
from shared.messaging.envelope import Envelope, build_envelope
from shared.messaging.outbox import stage
from shared.runtime.errors import Conflict, DomainError

PROMOTION_MONTH, PROMOTION_DAY = 8, 10  # LS 3(一): "每年 8 月 10 日 24 时"
RULE_SCHOOL_YEAR = "school_year_mismatch"
RULE_TOO_EARLY = "before_promotion_day"
RULE_RUNNING = "promotion_running"

# The grades each stage teaches (years of schooling; see domain/transfer_rules.py).
STAGE_GRADES: Mapping[str, range] = {
    "primary": range(1, 7),
    "junior": range(7, 10),
    "nine_year": range(1, 10),
    "senior": range(10, 13),
    "special": range(1, 13),
}
_CHUNK = 500  # ids per IN list (SQLite's bound-parameter limit is far above)

_ENROLLED = [s.value for s in PROMOTABLE]
_run: Table = PromotionRun.__table__  # type: ignore[assignment]
_entry: Table = RegistryEntry.__table__  # type: ignore[assignment]
_school: Table = PromotionSchool.__table__  # type: ignore[assignment]
_transfer: Table = TransferRecord.__table__  # type: ignore[assignment]
_period: Table = RegistryPeriod.__table__  # type: ignore[assignment]


# -- what the run reports ---------------------------------------------------------------------


@dataclass(frozen=True)
class HeldStudent:
    """A student promoted while a transfer held them: the transfer's grade moved too."""

    student_number: str
    school_code: str
    from_grade: int
    transfer_id: str
    to_school: str
    fits_receiving_school: bool  # the receiving school's stage teaches from_grade + 1


@dataclass(frozen=True)
class SchoolCount:
    school_code: str
    count: int
    stage: str | None = None  # for a school left out of the batch: its stage, None if unknown


@dataclass
class PromotionReport:
    """What a run did (``ran``) or, for a year that ran before, what that run did."""

    school_year: int
    as_of: date
    ran_at: datetime
    ran: bool = True
    promoted: int = 0
    by_grade: dict[int, int] = field(default_factory=dict)  # grade before → students
    # Enrolled students not promoted, by school: still in their graduating grade on the day
    # (graduation not recorded by July 30), or at a school the batch does not cover (a
    # special-education school — its students' grades are set one by one, N2025 art. 14 — or
    # a school the federation config does not know).
    graduating: list[SchoolCount] = field(default_factory=list)
    not_in_batch: list[SchoolCount] = field(default_factory=list)
    in_transfer: list[HeldStudent] = field(default_factory=list)
    schools: int = 0  # in the batch
    messages: int = 0  # registry.promoted staged
    province_messages: int = 0  # registry.province_promoted staged
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_grade"] = {str(g): n for g, n in sorted(self.by_grade.items())}
        data["as_of"] = self.as_of.isoformat()
        data["ran_at"] = self.ran_at.isoformat()
        del data["ran"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, ran: bool) -> PromotionReport:
        return cls(
            school_year=int(data["school_year"]),
            as_of=date.fromisoformat(data["as_of"]),
            ran_at=datetime.fromisoformat(data["ran_at"]),
            ran=ran,
            promoted=int(data["promoted"]),
            by_grade={int(g): int(n) for g, n in data["by_grade"].items()},
            graduating=[SchoolCount(**c) for c in data["graduating"]],
            not_in_batch=[SchoolCount(**c) for c in data["not_in_batch"]],
            in_transfer=[HeldStudent(**h) for h in data["in_transfer"]],
            schools=int(data["schools"]),
            messages=int(data["messages"]),
            province_messages=int(data.get("province_messages", 0)),
            duration_s=float(data["duration_s"]),
        )


# -- the plan: pure -------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldRow:
    """An enrolled student held by an active transfer, as the registry has them."""

    student_number: str
    school_code: str
    grade: int
    transfer_id: str
    to_school: str


@dataclass
class Plan:
    """Who moves up, school by school, and who is left alone and why."""

    graduating_grade: dict[str, int]  # school → its last grade, every school of the batch
    promoted: dict[str, dict[int, int]]  # school → grade → students
    graduating: list[SchoolCount]
    not_in_batch: list[SchoolCount]
    in_transfer: list[HeldStudent]

    @property
    def total(self) -> int:
        return sum(sum(grades.values()) for grades in self.promoted.values())

    def by_grade(self) -> dict[int, int]:
        totals: dict[int, int] = defaultdict(int)
        for grades in self.promoted.values():
            for grade, count in grades.items():
                totals[grade] += count
        return dict(sorted(totals.items()))


def graduating_grade(school: School) -> int | None:
    """The school's last grade, or ``None`` for a stage the batch does not promote."""
    return GRADUATING_GRADE.get(school.stage)


def plan_promotion(
    federation: Federation,
    enrolled: Iterable[tuple[str, int, int]],
    held: Iterable[HeldRow],
) -> Plan:
    """Decide the run from the enrolled students per (school, grade, count) and the students
    held by a transfer: every grade below the school's graduating grade moves up one."""
    last = {s.code: g for s in federation.schools if (g := graduating_grade(s)) is not None}
    promoted: dict[str, dict[int, int]] = defaultdict(dict)
    graduating: dict[str, int] = defaultdict(int)
    left_out: dict[str, int] = defaultdict(int)
    for school_code, grade, count in enrolled:
        top = last.get(school_code)
        if top is None:
            left_out[school_code] += count
        elif grade < top:
            promoted[school_code][grade] = count
        else:
            graduating[school_code] += count
    return Plan(
        graduating_grade=last,
        promoted={code: dict(sorted(grades.items())) for code, grades in promoted.items()},
        graduating=[SchoolCount(code, n) for code, n in sorted(graduating.items())],
        not_in_batch=[
            SchoolCount(code, n, _stage(federation, code)) for code, n in sorted(left_out.items())
        ],
        in_transfer=[
            _held(federation, row) for row in held if row.grade < last.get(row.school_code, 0)
        ],
    )


def _stage(federation: Federation, code: str) -> str | None:
    school = federation.school(code)
    return school.stage if school else None


def _held(federation: Federation, row: HeldRow) -> HeldStudent:
    receiving = federation.school(row.to_school)
    fits = receiving is not None and row.grade + 1 in STAGE_GRADES[receiving.stage]
    return HeldStudent(
        row.student_number, row.school_code, row.grade, row.transfer_id, row.to_school, fits
    )


def check_dates(school_year: int, as_of: date) -> None:
    """The run belongs to the school year starting that September, on or after August 10."""
    if as_of.year != school_year:
        raise DomainError(
            f"the promotion of school year {school_year} runs in {school_year}, not on {as_of}",
            rule=RULE_SCHOOL_YEAR,
        )
    if as_of < date(school_year, PROMOTION_MONTH, PROMOTION_DAY):
        raise DomainError(
            f"the promotion runs on August 10 (LS 3(一)), after graduation closes on July 30; "
            f"{as_of} is too early",
            rule=RULE_TOO_EARLY,
        )


# -- the queries ----------------------------------------------------------------------------


class PromotionQueries:
    """The promotion's statements: a fixed number, whatever the number of students."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stored(self, school_year: int) -> PromotionRun | None:
        return await self.session.get(PromotionRun, school_year)

    async def claim(self, school_year: int, as_of: date, now: datetime) -> None:
        """The year's row, first thing: a second run waits on the key and fails (409)."""
        try:
            await self.session.execute(
                insert(_run).values(
                    school_year=school_year, as_of=as_of, ran_at=now, promoted=0, report={}
                )
            )
        except IntegrityError as exc:
            raise Conflict(
                f"the promotion of school year {school_year} is running or has just run",
                rule=RULE_RUNNING,
            ) from exc

    async def hold_writers(self) -> None:
        """PostgreSQL: no one writes to the registry until this run commits (reads go on)."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(text("LOCK TABLE registry_entry IN EXCLUSIVE MODE"))

    async def leave_out_of_history(self, school_year: int) -> None:
        """The run writes no status period (decision 0046): it records the last period that
        exists now, under the lock — the periods whose grades it moves up — which also tells
        SQLite's update trigger that the grade-only changes at the run's time are the run's
        (migration 0024)."""
        last = await self.session.scalar(select(func.coalesce(func.max(_period.c.period_id), 0)))
        await self.session.execute(
            update(_run).where(_run.c.school_year == school_year).values(last_period_id=last)
        )

    async def mark_own_changes(self, at: datetime | None) -> None:
        """PostgreSQL: the update trigger's WHEN cannot read a table; the run tells it its
        time for this transaction only (``None``: no more), migration 0024."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        value = "CAST(:at AS timestamptz)::text" if at is not None else "''"
        await self.session.execute(
            text(f"SELECT set_config('xueji.promotion_at', {value}, true)"),
            {"at": at} if at is not None else {},
        )

    async def enrolled_counts(self) -> list[tuple[str, int, int]]:
        rows = await self.session.execute(
            select(_entry.c.school_code, _entry.c.grade, func.count())
            .where(_entry.c.status.in_(_ENROLLED))
            .group_by(_entry.c.school_code, _entry.c.grade)
        )
        return [(code, int(grade), int(count)) for code, grade, count in rows]

    async def held(self) -> list[HeldRow]:
        rows = await self.session.execute(
            select(
                _entry.c.student_number,
                _entry.c.school_code,
                _entry.c.grade,
                _transfer.c.transfer_id,
                _transfer.c.to_school,
            )
            .join(_transfer, _transfer.c.transfer_id == _entry.c.active_transfer_id)
            .where(
                _entry.c.active_transfer_id.is_not(None),
                _entry.c.status.in_(_ENROLLED),
                _transfer.c.state.in_([s.value for s in ACTIVE]),
            )
        )
        return [HeldRow(*row) for row in rows]

    async def add_schools(self, school_year: int, plan: Plan) -> None:
        rows = [
            {
                "school_year": school_year,
                "school_code": code,
                "graduating_grade": last,
                "promoted": sum(plan.promoted.get(code, {}).values()),
            }
            for code, last in sorted(plan.graduating_grade.items())
        ]
        if rows:
            await self.session.execute(insert(_school), rows)

    async def promote(self, school_year: int, now: datetime) -> int:
        """THE statement: every enrolled student below their school's graduating grade moves
        up one (UPDATE ... FROM promotion_school on both databases)."""
        result = await self.session.execute(
            update(_entry)
            .where(
                _school.c.school_year == school_year,
                _school.c.school_code == _entry.c.school_code,
                _entry.c.status.in_(_ENROLLED),
                _entry.c.grade < _school.c.graduating_grade,
            )
            .values(grade=_entry.c.grade + 1, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def carry_transfer_grades(self, transfer_ids: Sequence[str]) -> int:
        """The held students' transfers move up with them (the completion writes this grade)."""
        moved = 0
        for chunk in _chunks(transfer_ids):
            result = await self.session.execute(
                update(_transfer)
                .where(
                    _transfer.c.transfer_id.in_(chunk),
                    _transfer.c.state.in_([s.value for s in ACTIVE]),
                )
                .values(grade=_transfer.c.grade + 1)
            )
            moved += int(getattr(result, "rowcount", 0) or 0)
        return moved

    async def finish(self, report: PromotionReport) -> None:
        await self.session.execute(
            update(_run)
            .where(_run.c.school_year == report.school_year)
            .values(promoted=report.promoted, report=report.to_json())
        )


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- the messages ---------------------------------------------------------------------------


def messages(federation: Federation, plan: Plan, school_year: int, as_of: date) -> list[Envelope]:
    """One ``registry.promoted`` per school of the batch that an instance hosts, with ids
    derived from (school, year): the same run can never tell a school twice."""
    correlation = promotion_run_id(school_year)
    envelopes = []
    for code, last in sorted(plan.graduating_grade.items()):
        unit = UnitRef(tier=Tier.SCHOOL, code=code)
        if federation.instance_hosting(unit) is None:
            continue
        counts = plan.promoted.get(code, {})
        payload = RegistryPromoted(
            school_code=code,
            school_year=school_year,
            as_of=as_of,
            graduating_grade=last,
            promoted=tuple(GradeCount(grade=g, count=n) for g, n in counts.items()),
        )
        envelope = build_envelope(payload, source=NATIONAL, target=unit, correlation_id=correlation)
        envelopes.append(
            envelope.model_copy(update={"message_id": promotion_message_id(school_year, code)})
        )
    return envelopes


def province_messages(
    federation: Federation, plan: Plan, school_year: int, as_of: date
) -> list[Envelope]:
    """One ``registry.province_promoted`` per province that an instance hosts: its schools'
    graduating grades and counts (the province's view of the year's promotion)."""
    correlation = promotion_run_id(school_year)
    by_province: dict[str, list[SchoolPromotion]] = defaultdict(list)
    for code, last in sorted(plan.graduating_grade.items()):
        school = federation.school(code)
        if school is None:
            continue
        counts = plan.promoted.get(code, {})
        by_province[school.province].append(
            SchoolPromotion(
                school_code=code,
                graduating_grade=last,
                promoted=tuple(GradeCount(grade=g, count=n) for g, n in counts.items()),
            )
        )
    envelopes = []
    for province, schools in sorted(by_province.items()):
        unit = UnitRef(tier=Tier.PROVINCE, code=province)
        if federation.instance_hosting(unit) is None:
            continue
        payload = ProvincePromoted(
            province_code=province, school_year=school_year, as_of=as_of, schools=tuple(schools)
        )
        envelope = build_envelope(payload, source=NATIONAL, target=unit, correlation_id=correlation)
        message_id = province_promotion_message_id(school_year, province)
        envelopes.append(envelope.model_copy(update={"message_id": message_id}))
    return envelopes


# -- the use case ---------------------------------------------------------------------------


async def run_promotion(
    session: AsyncSession,
    federation: Federation,
    school_year: int,
    as_of: date,
    now: datetime,
) -> PromotionReport:
    """Run the year's promotion in ``session``'s transaction (the caller commits), or answer
    what the year's earlier run did (``ran`` is then false)."""
    check_dates(school_year, as_of)
    queries = PromotionQueries(session)
    earlier = await queries.stored(school_year)
    if earlier is not None:
        return PromotionReport.from_json(earlier.report, ran=False)
    started = time.perf_counter()
    await queries.claim(school_year, as_of, now)
    await queries.hold_writers()
    await queries.leave_out_of_history(school_year)
    plan = plan_promotion(federation, await queries.enrolled_counts(), await queries.held())
    await queries.add_schools(school_year, plan)
    await queries.mark_own_changes(now)
    moved = await queries.promote(school_year, now)
    await queries.mark_own_changes(None)
    if moved != plan.total:  # the lock makes this impossible; never commit a half-known run
        raise RuntimeError(f"promotion {school_year}: counted {plan.total}, updated {moved}")
    await queries.carry_transfer_grades([h.transfer_id for h in plan.in_transfer])
    envelopes = messages(federation, plan, school_year, as_of)
    provinces = province_messages(federation, plan, school_year, as_of)
    await stage(session, [*envelopes, *provinces], now)
    report = PromotionReport(
        school_year=school_year,
        as_of=as_of,
        ran_at=now,
        promoted=moved,
        by_grade=plan.by_grade(),
        graduating=plan.graduating,
        not_in_batch=plan.not_in_batch,
        in_transfer=plan.in_transfer,
        schools=len(plan.graduating_grade),
        messages=len(envelopes),
        province_messages=len(provinces),
    )
    report.duration_s = round(time.perf_counter() - started, 3)
    await queries.finish(report)
    return report


async def preview_promotion(
    session: AsyncSession,
    federation: Federation,
    school_year: int,
    as_of: date,
    now: datetime,
) -> tuple[PromotionReport, bool]:
    """What the run would do now, changing nothing (the operator's confirmation step): the
    same two reads as the run, no lock, no write. A year that ran answers its run's report
    and ``True`` (it ran already)."""
    check_dates(school_year, as_of)
    queries = PromotionQueries(session)
    earlier = await queries.stored(school_year)
    if earlier is not None:
        return PromotionReport.from_json(earlier.report, ran=False), True
    plan = plan_promotion(federation, await queries.enrolled_counts(), await queries.held())
    report = PromotionReport(
        school_year=school_year,
        as_of=as_of,
        ran_at=now,
        ran=False,
        promoted=plan.total,
        by_grade=plan.by_grade(),
        graduating=plan.graduating,
        not_in_batch=plan.not_in_batch,
        in_transfer=plan.in_transfer,
        schools=len(plan.graduating_grade),
    )
    return report, False


async def stored_report(session: AsyncSession, school_year: int) -> PromotionReport | None:
    """The report of the year's run, if it ran."""
    run = await PromotionQueries(session).stored(school_year)
    return PromotionReport.from_json(run.report, ran=False) if run is not None else None
