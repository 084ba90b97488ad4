"""Use case: basic statistics of the registry at every level (分级汇总, ZJ art. 5) — decision 0039.

National holds the basic registry (N2025 arts. 5, 23), so the basic counts of every unit —
national, province, city, county, school — are computed here, from national's own tables;
non-basic breakdowns are the provinces' (``services/province/service_layer/statistics.py``).

- **Headcount** by any of grade, gender, ethnicity, status, temporary (``L``) number, school,
  province, county. Today: the rolled-up counts (``headcount_rollup``, as of its watermark) plus
  the periods begun and ended since; as of a past moment: the periods open at that moment
  (``registry_period``, kept by triggers in the changing transaction). Set-based: one
  statement whatever the size.
- **Roll-up**: the periods begun and ended since the watermark applied to the counts (+1 / -1
  per combination) — a day's movements, never a recount.
- **Movements** of a period: the periods begun in it, grouped by (school before, school,
  status before, status, grade changed) and classified here: registrations, transfers in and
  out (within the county, cross-county, cross-province with the other province),
  progressions, promotions, suspensions, resumptions, dropouts, deaths, graduations …
- **Promotions** (decision 0046): the August 10 run writes no period; a count by grade moves
  each period's grade up by the runs since it was written (``grade_shift.py``), the roll-up
  moves its counts up as the run moved its students, and the movements count the run's
  students from ``promotion_school``.
- **Overdue steps** per party, **data quality** (suspects held for review, temporary numbers
  older than N months, unresolved verification findings) and **early warning** (N2025 art. 23:
  a school's week of registrations or departures far above its own history).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import (
    DedupReview,
    HeadcountRollup,
    ProgressionStepRecord,
    PromotionRun,
    PromotionSchool,
    RegistryEntry,
    RegistryPeriod,
    StatisticsAlert,
    StatisticsWatermark,
    TransferStepRecord,
    VerificationSchool,
)
from services.national.domain.status import PROMOTABLE
from services.national.service_layer import grade_shift
from services.national.service_layer.grade_shift import Run
from shared.clock import CHINA
from shared.contracts.statistics import AlertRaised
from shared.federation.config import Federation, School, Tier, UnitRef
from shared.messaging.emit import Emit
from shared.runtime.errors import DomainError

_period: Table = RegistryPeriod.__table__  # type: ignore[assignment]
_rollup: Table = HeadcountRollup.__table__  # type: ignore[assignment]
_mark: Table = StatisticsWatermark.__table__  # type: ignore[assignment]
_alert: Table = StatisticsAlert.__table__  # type: ignore[assignment]
_entry: Table = RegistryEntry.__table__  # type: ignore[assignment]
_run: Table = PromotionRun.__table__  # type: ignore[assignment]
_promoted: Table = PromotionSchool.__table__  # type: ignore[assignment]
_PROMOTABLE = sorted(s.value for s in PROMOTABLE)

# What a headcount may be broken down by, and the column that holds it (period / roll-up).
DIMENSIONS: Mapping[str, str] = {
    "grade": "grade",
    "gender": "gender",
    "ethnicity": "ethnicity",
    "status": "status",
    "temporary": "temporary",
    "school": "school_code",
    "province": "province_code",
    "county": "school_code",  # grouped by school in SQL, folded into counties here
}
WATERMARK = "headcount"
SUPPRESS_BELOW = 5  # a cell under this is "<5" for anyone but the unit itself
RULE_BAD_DIMENSION = "statistics_bad_dimension"
RULE_BAD_PERIOD = "statistics_bad_period"
_LEFT_STAGE = ("graduated", "completed", "incomplete")
_DEPARTED = ("dropout", "suspected_dropout", "other_departure", "withdrawn")


# -- the scope of a unit --------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The schools a unit's figures cover: every school (national), a province's, or a list."""

    unit: UnitRef
    province: str | None = None
    schools: tuple[str, ...] | None = None

    def period_filter(self, table: Table, column: str = "school_code") -> ColumnElement[bool]:
        if self.province is not None and self.schools is None and column == "school_code":
            return table.c.province_code == self.province
        return self.code_filter(table.c[column])

    def code_filter(self, code: ColumnElement[Any]) -> ColumnElement[bool]:
        """The scope's schools by their codes alone, for a table without ``province_code``:
        a province's as the range of codes it begins (an index on the code serves it)."""
        if self.schools is not None:
            return code.in_(self.schools)
        if self.province is not None:
            after = _after_prefix(self.province)
            return (
                code >= self.province
                if after is None
                else and_(code >= self.province, code < after)
            )
        return true()

    def holds(self, school_code: str | None) -> bool:
        if school_code is None:
            return False
        if self.schools is not None:
            return school_code in self.schools
        return self.province is None or school_code[:2] == self.province


class Members(Protocol):
    """Whether a school is among a unit's: all a movement's classification asks of a scope."""

    def holds(self, school_code: str | None) -> bool: ...


@dataclass(frozen=True)
class CountyMembers:
    """A county's schools, asked school by school (``county_of``: a known school's county,
    None for a school the federation does not know), never listed. The daily figures classify
    the movements of every county of the country; listing each county's schools read all
    ~500,000 of them from the school directory for a day's ~20,000 movements."""

    unit: UnitRef
    county_of: Callable[[str], str | None]

    def holds(self, school_code: str | None) -> bool:
        return school_code is not None and self.county_of(school_code) == self.unit.code


def _after_prefix(prefix: str) -> str | None:
    """The first digit string after every one beginning with the digits ``prefix`` (``41`` →
    ``42``, ``49`` → ``50``; None after ``99``): digits only, so the bound holds in any
    collation."""
    if not prefix.isdigit():
        raise ValueError(f"not a code prefix: {prefix!r}")
    if prefix == "9" * len(prefix):
        return None
    return str(int(prefix) + 1).zfill(len(prefix))


def scope_of(federation: Federation, unit: UnitRef) -> Scope:
    """The schools under ``unit``: a school itself, a county's or a city's schools, a
    province's (by its code), or all (national)."""
    if unit.tier == Tier.NATIONAL:
        return Scope(unit)
    if unit.tier == Tier.PROVINCE:
        return Scope(unit, province=unit.code)
    if unit.tier == Tier.SCHOOL:
        return Scope(unit, schools=(unit.code,))
    if unit.tier == Tier.COUNTY:
        return Scope(unit, schools=tuple(s.code for s in federation.schools_of_county(unit.code)))
    return Scope(unit, schools=tuple(s.code for s in federation.schools_under(unit.code)))


# -- headcount -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountRow:
    keys: dict[str, Any]
    students: int | None  # None: suppressed (fewer than SUPPRESS_BELOW)


@dataclass
class Headcount:
    unit: UnitRef
    as_of: datetime | None  # None: today
    by: tuple[str, ...]
    rows: list[CountRow]
    total: int | None
    suppressed: bool  # small cells hidden (the caller is not the unit itself)


def parse_dimensions(by: str | None) -> tuple[str, ...]:
    names = tuple(d.strip() for d in (by or "").split(",") if d.strip())
    unknown = [d for d in names if d not in DIMENSIONS]
    if unknown:
        raise DomainError(
            f"cannot count by {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}",
            rule=RULE_BAD_DIMENSION,
        )
    return tuple(dict.fromkeys(names))


def _columns(table: Table, by: Sequence[str]) -> list[ColumnElement[Any]]:
    cols: list[ColumnElement[Any]] = []
    for name in by:
        col: ColumnElement[Any] = table.c[DIMENSIONS[name]]
        if name == "ethnicity":
            col = func.coalesce(col, "")
        cols.append(col.label(name))
    return cols


def _period_columns(by: Sequence[str], runs: Sequence[Run]) -> list[ColumnElement[Any]]:
    """The ``by`` columns of a period, and what the promotions' shift needs when there are
    runs to apply (decision 0046)."""
    cols = _columns(_period, by)
    if runs:
        position = grade_shift.bucket(_period.c.period_id, runs)
        cols += grade_shift.helper_columns(_period.c.school_code, _period.c.status, position)
    return cols


def _grouped(
    query: Select[Any] | CompoundSelect[Any], by: Sequence[str], runs: Sequence[Run]
) -> Select[Any]:
    """``query`` (``by`` columns, ``n``) summed by ``by``, grades moved by ``runs``."""
    if not runs:
        parts = query.subquery()
        keys = [parts.c[d] for d in by]
        return select(*keys, func.sum(parts.c.n).label("n")).group_by(*keys)
    return grade_shift.regrouped(query, by, runs)


def _periods_open_at(
    scope: Scope, by: Sequence[str], moment: datetime | None, runs: Sequence[Run] = ()
) -> Select[Any]:
    """The periods open at ``moment`` (None: the open ones), counted by ``by``; with
    ``runs``, first by school, status and the runs each is after, then shifted."""
    cols = _period_columns(by, runs)
    if moment is None:
        when: ColumnElement[bool] = _period.c.valid_to.is_(None)
    else:
        when = and_(
            _period.c.valid_from <= moment,
            or_(_period.c.valid_to.is_(None), _period.c.valid_to > moment),
        )
    query = (
        select(*cols, func.count().label("n"))
        .where(scope.period_filter(_period), when)
        .group_by(*[literal_column(c.name) for c in cols])
    )
    return grade_shift.regrouped(query, by, runs) if runs else query


def _delta_since(
    scope: Scope, by: Sequence[str], mark: datetime, sign: int, runs: Sequence[Run]
) -> Select[Any]:
    edge = _period.c.valid_from if sign > 0 else _period.c.valid_to
    return select(*_period_columns(by, runs), literal(sign).label("n")).where(
        scope.period_filter(_period), edge > mark
    )


async def watermark(session: AsyncSession) -> datetime | None:
    found = await session.scalar(select(_mark.c.applied_to).where(_mark.c.name == WATERMARK))
    return _utc(found) if found is not None else None


async def headcount(
    session: AsyncSession,
    federation: Federation,
    unit: UnitRef,
    by: Sequence[str],
    as_of: datetime | None = None,
    *,
    own_unit: bool = True,
) -> Headcount:
    """Students under ``unit`` by ``by``, today (``as_of`` None) or at the moment ``as_of``."""
    scope = scope_of(federation, unit)
    sql_by = [d for d in by if d != "county"] + (["school"] if "county" in by else [])
    sql_by = list(dict.fromkeys(sql_by))
    rows = await _counted_rows(session, scope, sql_by, as_of)
    counts: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        keys = dict(zip(sql_by, row[:-1], strict=True))
        if "temporary" in keys:
            keys["temporary"] = bool(keys["temporary"])
        if "county" in by:
            school = federation.school(keys["school"])
            keys["county"] = school.county if school else keys["school"][:6]
        counts[tuple(keys[d] for d in by)] += int(row[-1] or 0)
    return _shaped(unit, as_of, tuple(by), counts, suppress=not own_unit)


async def _counted_rows(
    session: AsyncSession, scope: Scope, sql_by: Sequence[str], as_of: datetime | None
) -> Sequence[Any]:
    """One grouped statement: the students of ``scope`` by ``sql_by`` (the roll-up plus the
    periods since its watermark, or the periods open at ``as_of``)."""
    mark = await watermark(session) if as_of is None else None
    # The promotions left their students' periods open (decision 0046): a count by grade
    # moves each period's grade up by the runs since it was written.
    moment = as_of or datetime.now(UTC)
    runs = await grade_shift.runs_until(session, moment) if "grade" in sql_by else []
    if as_of is not None or mark is None:
        query: Select[Any] = _periods_open_at(scope, sql_by, as_of, runs)
    else:
        # the counts at the watermark hold the runs up to it; the periods since (a day's
        # movements) are moved by every run after them
        since = runs[grade_shift.runs_before(runs, mark) :]
        cols = _columns(_rollup, sql_by)
        if since:
            cols += grade_shift.helper_columns(_rollup.c.school_code, _rollup.c.status, literal(0))
        rolled = select(*cols, _rollup.c.students.label("n")).where(scope.period_filter(_rollup))
        deltas: CompoundSelect[Any] = union_all(
            _delta_since(scope, sql_by, mark, 1, runs),
            _delta_since(scope, sql_by, mark, -1, runs),
        )
        parts = union_all(_grouped(rolled, sql_by, since), _grouped(deltas, sql_by, runs))
        query = _grouped(parts, sql_by, [])
    rows: Sequence[Any] = (await session.execute(query)).all()
    return rows


def _shaped(
    unit: UnitRef,
    as_of: datetime | None,
    by: tuple[str, ...],
    counts: Mapping[tuple[Any, ...], int],
    *,
    suppress: bool,
) -> Headcount:
    total = sum(counts.values())
    rows = [
        CountRow(
            dict(zip(by, key, strict=True)),
            None if suppress and 0 < n < SUPPRESS_BELOW else n,
        )
        for key, n in sorted(counts.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
        if n
    ]
    return Headcount(
        unit,
        as_of,
        by,
        rows,
        None if suppress and 0 < total < SUPPRESS_BELOW else total,
        suppress,
    )


# -- a unit's schools, a page at a time ------------------------------------------------------

SCHOOLS_PAGE = 50


@dataclass(frozen=True)
class SchoolCount:
    code: str
    name: str
    students: int | None  # None: suppressed (fewer than SUPPRESS_BELOW)


@dataclass
class SchoolsPage:
    """One page of a unit's schools by code, each with its students today."""

    unit: UnitRef
    rows: list[SchoolCount]
    matching: int  # the unit's schools that match the search, on every page
    next_after: str | None  # the key of the next page; None: the last page
    suppressed: bool


def schools_under(federation: Federation, unit: UnitRef) -> list[School]:
    """The schools whose figures ``unit``'s cover (a county's from the directory's index)."""
    if unit.tier is Tier.SCHOOL:
        school = federation.school(unit.code)
        return [school] if school else []
    if unit.tier is Tier.COUNTY:
        return federation.schools_of_county(unit.code)
    if unit.tier is Tier.CITY:
        return federation.schools_under(unit.code)
    if unit.tier is Tier.PROVINCE:
        return federation.schools_under(unit.code)
    return list(federation.schools)


def _matches(school: School, wanted: str) -> bool:
    return not wanted or school.code.startswith(wanted) or wanted in school.name


async def schools_page(
    session: AsyncSession,
    federation: Federation,
    unit: UnitRef,
    *,
    search: str = "",
    after: str | None = None,
    limit: int = SCHOOLS_PAGE,
    own_unit: bool = True,
) -> SchoolsPage:
    """``limit`` of ``unit``'s schools after the code ``after`` (keyset), those whose code
    begins with or whose name holds ``search``, each with its students today (0 for none):
    one grouped statement over the page's schools alone, whatever the unit's size."""
    wanted = search.strip()
    if unit.tier is Tier.SCHOOL:
        found = [s for s in schools_under(federation, unit) if _matches(s, wanted)]
        page, total = [s for s in found if after is None or s.code > after][: limit + 1], len(found)
    else:  # one page of the directory's code index, not a scan of the country's schools
        under = "" if unit.tier is Tier.NATIONAL else unit.code
        page, total = federation.schools_matching(under, wanted, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    codes = tuple(s.code for s in page)
    counted = (
        await _counted_rows(session, Scope(unit, schools=codes), ["school"], None) if codes else []
    )
    students = {row[0]: int(row[1] or 0) for row in counted}
    suppress = not own_unit

    def shown(n: int) -> int | None:
        return None if suppress and 0 < n < SUPPRESS_BELOW else n

    rows = [SchoolCount(s.code, s.name, shown(students.get(s.code, 0))) for s in page]
    return SchoolsPage(unit, rows, total, page[-1].code if more else None, suppress)


# -- the roll-up -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupReport:
    applied_from: datetime | None
    applied_to: datetime
    periods_begun: int
    periods_ended: int
    combinations: int
    full: bool  # True the first time (no watermark: the open periods counted once)


_ROLLUP_KEYS = ("school_code", "grade", "status", "gender", "ethnicity", "temporary")


async def roll_up(session: AsyncSession, until: datetime, now: datetime) -> RollupReport:
    """Apply the periods begun and ended in (watermark, ``until``] to ``headcount_rollup``:
    +1 / -1 per combination, one upsert. The first run counts the open periods once.
    ``until`` should trail the clock by more than any transaction lasts (a commit made
    later with an earlier ``updated_at`` would be missed): the periodic runner uses 10
    minutes. A promotion run since the watermark first moves the counts up a grade as it
    moved its students (:func:`_promote_rollup`), and each period's grade is moved by the
    runs since it was written (decision 0046)."""
    until = _utc(until)
    if session.get_bind().dialect.name == "postgresql":
        # a promotion in progress (it holds promotion_run from its first statement) commits
        # first: its time may already be behind ``until`` when the run is long
        await session.execute(text("LOCK TABLE promotion_run IN SHARE MODE"))
    mark = await watermark(session)
    runs = await grade_shift.runs_until(session, until)
    cols: list[ColumnElement[Any]] = [
        _period.c.school_code,
        _period.c.grade,
        _period.c.status,
        _period.c.gender,
        func.coalesce(_period.c.ethnicity, "").label("ethnicity"),
        _period.c.temporary,
        _period.c.province_code,
    ]
    if runs:
        position = grade_shift.bucket(_period.c.period_id, runs)
        cols += grade_shift.helper_columns(_period.c.school_code, _period.c.status, position)
    source: Select[Any] | CompoundSelect[Any]
    if mark is None:
        source = select(*cols, literal(1).label("n")).where(
            _period.c.valid_from <= until,
            or_(_period.c.valid_to.is_(None), _period.c.valid_to > until),
        )
    else:
        for run in runs[grade_shift.runs_before(runs, mark) :]:
            await _promote_rollup(session, run)
        begun = select(*cols, literal(1).label("n")).where(
            _period.c.valid_from > mark, _period.c.valid_from <= until
        )
        ended = select(*cols, literal(-1).label("n")).where(
            _period.c.valid_to > mark, _period.c.valid_to <= until
        )
        source = union_all(begun, ended)
    deltas = grade_shift.shifted(source.subquery(), runs) if runs else source.subquery()
    grouped = select(
        *[deltas.c[k] for k in _ROLLUP_KEYS],
        func.max(deltas.c.province_code).label("province_code"),
        func.sum(deltas.c.n).label("students"),
        func.sum(case((deltas.c.n > 0, 1), else_=0)).label("begun"),
        func.sum(case((deltas.c.n < 0, 1), else_=0)).label("ended"),
    ).group_by(*[deltas.c[k] for k in _ROLLUP_KEYS])
    rows = (await session.execute(grouped)).all()
    changes = [
        {**dict(zip(_ROLLUP_KEYS, r[:6], strict=True)), "province_code": r[6], "students": r[7]}
        for r in rows
        if r[7]
    ]
    if changes:
        await session.execute(_upsert_rollup(session), changes)
        await session.execute(_rollup.delete().where(_rollup.c.students == 0))
    await _set_watermark(session, until, now)
    return RollupReport(
        mark,
        until,
        sum(int(r[8]) for r in rows),
        sum(int(r[9]) for r in rows),
        len(changes),
        mark is None,
    )


async def _promote_rollup(session: AsyncSession, run: Run) -> None:
    """Move the rolled-up counts up a grade as ``run`` moved its students (an enrolled count
    at a school of the run, below its graduating grade), set-based. A count moving into a
    grade that has one merges with it, so the moved counts pass through negative grades:
    staged, the originals deleted, merged back with an upsert, the staging deleted."""
    school = _promoted.alias("promoted")
    moves = and_(
        school.c.school_year == run.school_year,
        school.c.school_code == _rollup.c.school_code,
        _rollup.c.grade < school.c.graduating_grade,
    )
    moving = and_(_rollup.c.grade >= 0, _rollup.c.status.in_(_PROMOTABLE))
    names = [*_ROLLUP_KEYS, "province_code", "students"]
    staged = (
        select(*[(-(_rollup.c.grade + 1)) if k == "grade" else _rollup.c[k] for k in names])
        .join_from(_rollup, school, moves)
        .where(moving)
    )
    await session.execute(_rollup.insert().from_select(names, staged))
    await session.execute(
        _rollup.delete().where(moving, select(school.c.school_code).where(moves).exists())
    )
    back = select(*[(-_rollup.c.grade) if k == "grade" else _rollup.c[k] for k in names]).where(
        _rollup.c.grade < 0
    )
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_rollup)
    await session.execute(
        stmt.from_select(names, back).on_conflict_do_update(
            index_elements=list(_ROLLUP_KEYS),
            set_={"students": _rollup.c.students + stmt.excluded.students},
        )
    )
    await session.execute(_rollup.delete().where(_rollup.c.grade < 0))


def _upsert_rollup(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_rollup)
    return stmt.on_conflict_do_update(
        index_elements=list(_ROLLUP_KEYS),
        set_={"students": _rollup.c.students + stmt.excluded.students},
    )


async def _set_watermark(session: AsyncSession, until: datetime, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_mark).values(
        name=WATERMARK, applied_to=until, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"applied_to": until, "updated_at": now}
        )
    )


# -- movements -------------------------------------------------------------------------------

MOVEMENT_KINDS = (
    "registered",
    "transfer_in",
    "transfer_out",
    "progression_in",
    "progression_out",
    "promoted",
    "grade_changed",
    "suspended",
    "resumed",
    "dropout",
    "returned",
    "other_departure",
    "abroad",
    "deceased",
    "graduated",
    "other",
)
_STATUS_KIND = {
    "suspended": "suspended",
    "dropout": "dropout",
    "suspected_dropout": "dropout",
    "withdrawn": "dropout",
    "other_departure": "other_departure",
    "abroad": "abroad",
    "deceased": "deceased",
    "graduated": "graduated",
    "completed": "graduated",
    "incomplete": "graduated",
}


@dataclass
class Movements:
    unit: UnitRef
    start: date
    end: date  # inclusive
    counts: dict[str, int] = field(default_factory=dict)
    # transfers by reach: within_county / cross_county / cross_province, per direction
    transfers: dict[str, dict[str, int]] = field(default_factory=dict)
    # cross-province transfers by the other side's province, per direction
    other_provinces: dict[str, dict[str, int]] = field(default_factory=dict)
    daily: dict[date, dict[str, int]] = field(default_factory=dict)


def _beijing_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise DomainError("the period ends before it starts", rule=RULE_BAD_PERIOD)
    low = datetime.combine(start, time.min, CHINA).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, CHINA).astimezone(UTC)
    return low, high


def end_of_day(day: date) -> datetime:
    """The last moment of a Beijing date, in UTC: the census of that day."""
    return datetime.combine(day + timedelta(days=1), time.min, CHINA).astimezone(UTC) - timedelta(
        microseconds=1
    )


async def movements(
    session: AsyncSession, federation: Federation, unit: UnitRef, start: date, end: date
) -> Movements:
    """What moved under ``unit`` between two Beijing dates (both included)."""
    scope = scope_of(federation, unit)
    report = _empty_movements(unit, start, end)
    daily: dict[date, Counter[str]] = defaultdict(Counter)
    for prev_school, school, prev_status, status, changed, on, n in await _movement_rows(
        session, scope, start, end
    ):
        kinds = _classify(
            federation, scope, report, prev_school, school, prev_status, status, bool(changed), n
        )
        for kind in kinds:
            report.counts[kind] += n
            daily[date.fromisoformat(str(on))][kind] += n
    low, high = _beijing_bounds(start, end)
    for on, n in await session.execute(_promotions(scope, low, high)):
        # the runs since decision 0046 write no period: their records say who moved up
        report.counts["promoted"] += int(n)
        daily[_utc(on).astimezone(CHINA).date()]["promoted"] += int(n)
    report.daily = {d: dict(c) for d, c in sorted(daily.items())}
    return report


async def movements_by_county(
    session: AsyncSession, federation: Federation, province: str, start: date, end: date
) -> dict[str, Movements]:
    """The movements of every county of ``province`` (those :func:`movements` answers for
    each), from one grouped statement for the whole province: each group is classified for
    the county of the school it moved to and, if another, of the school it left."""
    known: dict[str, str | None] = {}  # a school's county, looked up once per run

    def county_of(code: str) -> str | None:
        if code not in known:
            school = federation.school(code)
            known[code] = school.county if school else None
        return known[code]

    scopes = {
        c.code: CountyMembers(UnitRef(tier=Tier.COUNTY, code=c.code), county_of)
        for c in federation.counties
        if c.province == province
    }
    reports = {code: _empty_movements(scope.unit, start, end) for code, scope in scopes.items()}
    whole = Scope(UnitRef(tier=Tier.PROVINCE, code=province), province=province)
    for prev_school, school, prev_status, status, changed, _on, n in await _movement_rows(
        session, whole, start, end
    ):
        counties = {
            (county_of(code) or code[:6]) if code else None for code in (school, prev_school)
        }
        for county in sorted(c for c in counties if c in scopes):
            report = reports[county]
            for kind in _classify(
                federation,
                scopes[county],
                report,
                prev_school,
                school,
                prev_status,
                status,
                bool(changed),
                n,
            ):
                report.counts[kind] += n
    low, high = _beijing_bounds(start, end)
    for promoted_at, n in await session.execute(_promotions(whole, low, high, by_school=True)):
        promoted_in = county_of(promoted_at) or promoted_at[:6]
        if promoted_in in reports:
            reports[promoted_in].counts["promoted"] += int(n)
    return reports


def _empty_movements(unit: UnitRef, start: date, end: date) -> Movements:
    report = Movements(unit, start, end, counts=dict.fromkeys(MOVEMENT_KINDS, 0))
    report.transfers = {d: dict.fromkeys(_REACHES, 0) for d in ("in", "out")}
    report.other_provinces = {"in": {}, "out": {}}
    return report


async def _movement_rows(
    session: AsyncSession, scope: Scope, start: date, end: date
) -> list[tuple[Any, ...]]:
    """The periods begun under ``scope`` in the period, grouped by (school before, school,
    status before, status, grade changed, Beijing day)."""
    low, high = _beijing_bounds(start, end)
    in_scope = or_(scope.period_filter(_period), scope.period_filter(_period, "prev_school"))
    grade_changed = case((_period.c.grade != _period.c.prev_grade, 1), else_=0)
    day = _beijing_day(session)
    keys = (
        _period.c.prev_school,
        _period.c.school_code,
        _period.c.prev_status,
        _period.c.status,
        grade_changed,
        day,
    )
    # Grouped in SQL (the August 10 promotion alone is one period per student); classified
    # here, where the federation says each school's county and province.
    query = (
        select(*keys, func.count())
        .where(in_scope, _period.c.valid_from >= low, _period.c.valid_from < high)
        .group_by(*keys)
    )
    return [(*row[:-1], int(row[-1])) for row in await session.execute(query)]


def _promotions(
    scope: Scope, low: datetime, high: datetime, *, by_school: bool = False
) -> Select[Any]:
    """Students promoted under ``scope`` by the runs in [low, high), per run (or per school):
    from ``promotion_school`` (runs from before decision 0046 wrote periods, counted above)."""
    school = _promoted.c.school_code
    if scope.schools is not None:
        under: ColumnElement[bool] = school.in_(scope.schools)
    elif scope.province is not None:
        under = func.substr(school, 1, 2) == scope.province
    else:
        under = true()
    key = school if by_school else _run.c.ran_at
    return (
        select(key, func.sum(_promoted.c.promoted))
        .join_from(_run, _promoted, _promoted.c.school_year == _run.c.school_year)
        .where(
            _run.c.last_period_id.is_not(None),
            _run.c.ran_at >= low,
            _run.c.ran_at < high,
            _promoted.c.promoted > 0,
            under,
        )
        .group_by(key)
    )


def _beijing_day(session: AsyncSession) -> ColumnElement[Any]:
    """The Beijing date of a period's start, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", _period.c.valid_from))
    return func.date(_period.c.valid_from, "+8 hours")


_REACHES = ("within_county", "cross_county", "cross_province")


def _classify(
    federation: Federation,
    scope: Members,
    report: Movements,
    prev_school: str | None,
    school: str,
    prev_status: str | None,
    status: str,
    grade_changed: bool,
    n: int = 1,
) -> Iterable[str]:
    if prev_status is None:
        return ["registered"] if scope.holds(school) else []
    if prev_school != school:
        return _moved(federation, scope, report, prev_school or "", school, prev_status, n)
    if not scope.holds(school):
        return []
    if prev_status != status:
        if status == "enrolled":
            return ["resumed" if prev_status == "suspended" else "returned"]
        return [_STATUS_KIND.get(status, "other")]
    if grade_changed:
        return ["promoted" if status == "enrolled" else "grade_changed"]
    return []


def _moved(
    federation: Federation,
    scope: Members,
    report: Movements,
    origin: str,
    school: str,
    prev_status: str,
    n: int,
) -> list[str]:
    kinds: list[str] = []
    progression = prev_status in _LEFT_STAGE
    reach = _reach(federation, origin, school)
    for direction, here, there in (("in", school, origin), ("out", origin, school)):
        if not scope.holds(here):
            continue
        kinds.append(f"{'progression' if progression else 'transfer'}_{direction}")
        if progression:
            continue
        report.transfers[direction][reach] += n
        if reach == "cross_province":
            other = report.other_provinces[direction]
            other[there[:2]] = other.get(there[:2], 0) + n
    return kinds


def _reach(federation: Federation, origin: str, school: str) -> str:
    if origin[:2] != school[:2]:
        return "cross_province"
    a, b = federation.school(origin), federation.school(school)
    county_a = a.county if a else origin[:6]
    county_b = b.county if b else school[:6]
    return "within_county" if county_a == county_b else "cross_county"


# -- overdue steps, data quality -------------------------------------------------------------


@dataclass(frozen=True)
class OverdueRow:
    party_unit: str
    transfer_steps: int
    progression_steps: int


def _unit_under(federation: Federation, scope: Scope, party: str) -> bool:
    try:
        unit = UnitRef.parse(party)
    except ValueError:
        return False
    if scope.unit.tier == Tier.NATIONAL:
        return True
    if unit.tier == Tier.SCHOOL:
        return scope.holds(unit.code)
    if scope.schools is None:
        return unit.code[:2] == scope.province
    if unit.tier == Tier.NATIONAL:
        return False
    return unit.code.startswith(scope.unit.code) and len(unit.code) >= len(scope.unit.code)


async def overdue_steps(
    session: AsyncSession, federation: Federation, unit: UnitRef, today: date
) -> list[OverdueRow]:
    """Open transfer and progression steps past their due date, per deciding party under
    ``unit`` (the party itself included)."""
    scope = scope_of(federation, unit)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index, record in enumerate((TransferStepRecord, ProgressionStepRecord)):
        table: Table = record.__table__  # type: ignore[assignment]
        query = (
            select(table.c.party_unit, func.count())
            .where(table.c.state == "open", table.c.due_on < today)
            .group_by(table.c.party_unit)
        )
        for party, n in await session.execute(query):
            if _unit_under(federation, scope, party):
                found[party][index] += int(n)
    return [OverdueRow(p, t, g) for p, (t, g) in sorted(found.items())]


@dataclass
class Quality:
    unit: UnitRef
    as_of: date
    suspects_held: int
    temporary_older: int
    temporary_months: int
    verification_ghosts: int
    verification_mismatches: int
    by_school: dict[str, dict[str, int]]
    # enrolled students whose identity no term verification confirmed yet (decision 0047)
    id_unverified: int = 0


async def data_quality(
    session: AsyncSession,
    federation: Federation,
    unit: UnitRef,
    today: date,
    temporary_months: int = 6,
) -> Quality:
    """Questionable registrations (问题学籍) under ``unit``: applicants held by a suspect rule,
    registrations still on a temporary ``L`` number after ``temporary_months``, enrolled
    students whose identity no term verification confirmed yet (``id_verified_at``), and the
    ghosts and mismatches of each school's latest term verification."""
    scope = scope_of(federation, unit)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    review: Table = DedupReview.__table__  # type: ignore[assignment]
    held = (
        select(review.c.school_code, func.count())
        .where(review.c.status == "open", scope.period_filter(review))
        .group_by(review.c.school_code)
    )
    for school, n in await session.execute(held):
        per[school]["suspects_held"] += int(n)
    cutoff = datetime.combine(_months_before(today, temporary_months), time.min, CHINA)
    old = (
        select(_entry.c.school_code, func.count())
        .where(
            _entry.c.student_number >= "L",
            _entry.c.student_number < "M",
            _entry.c.registered_at < cutoff.astimezone(UTC),
            scope.period_filter(_entry),
        )
        .group_by(_entry.c.school_code)
    )
    for school, n in await session.execute(old):
        per[school]["temporary_older"] += int(n)
    unverified = (  # through the partial index ix_registry_entry_unverified
        select(_entry.c.school_code, func.count())
        .where(
            _entry.c.id_verified_at.is_(None),
            _entry.c.status == "enrolled",
            scope.period_filter(_entry),
        )
        .group_by(_entry.c.school_code)
    )
    for school, n in await session.execute(unverified):
        per[school]["id_unverified"] += int(n)
    checks: Table = VerificationSchool.__table__  # type: ignore[assignment]
    latest = (  # each school's latest check, read for the unit's schools only
        select(checks.c.school_code, func.max(checks.c.checked_at).label("at"))
        .where(scope.code_filter(checks.c.school_code))
        .group_by(checks.c.school_code)
        .subquery()
    )
    found = select(checks.c.school_code, checks.c.ghosts, checks.c.mismatches).join(
        latest,
        and_(latest.c.school_code == checks.c.school_code, latest.c.at == checks.c.checked_at),
    )
    for school, ghosts, mismatches in await session.execute(found):
        per[school]["verification_ghosts"] += int(ghosts)
        per[school]["verification_mismatches"] += int(mismatches)
    totals: Counter[str] = Counter()
    for counts in per.values():
        totals.update(counts)
    return Quality(
        unit,
        today,
        totals["suspects_held"],
        totals["temporary_older"],
        temporary_months,
        totals["verification_ghosts"],
        totals["verification_mismatches"],
        {s: dict(c) for s, c in sorted(per.items())},
        totals["id_unverified"],
    )


def _months_before(day: date, months: int) -> date:
    month = day.year * 12 + day.month - 1 - months
    year, month0 = divmod(month, 12)
    return date(year, month0 + 1, min(day.day, 28))


# -- early warning (N2025 art. 23) -----------------------------------------------------------

WARNING_WEEKS = 8  # the history a school's week is compared with
WARNING_FLOOR = 10  # never an alert for fewer in a week


@dataclass(frozen=True)
class Alert:
    alert_id: str
    school_code: str
    province_code: str
    authority_unit: str
    kind: str
    week_start: date
    observed: int
    baseline: float
    threshold: float
    raised_at: datetime
    stdev: float = 0.0  # of the weeks before (0 for alerts recorded before it was kept)


def alert_baseline(history: Sequence[int]) -> tuple[float, float, float]:
    """The mean and the standard deviation of the weeks before, and the threshold a week must
    exceed: the mean plus three standard deviations, at least three times the mean, never
    under :data:`WARNING_FLOOR`."""
    mean = sum(history) / len(history) if history else 0.0
    var = sum((x - mean) ** 2 for x in history) / len(history) if history else 0.0
    stdev = math.sqrt(var)
    return mean, stdev, max(mean + 3 * stdev, 3 * mean, float(WARNING_FLOOR))


def alert_threshold(history: Sequence[int]) -> tuple[float, float]:
    """The baseline (mean of the weeks before) and the threshold (:func:`alert_baseline`)."""
    mean, _, threshold = alert_baseline(history)
    return mean, threshold


async def scan_warnings(
    session: AsyncSession,
    federation: Federation,
    week_start: date,
    now: datetime,
    emit: Emit | None = None,
) -> list[Alert]:
    """Compare each school's registrations and departures in the week starting
    ``week_start`` with its previous :data:`WARNING_WEEKS` weeks; record an alert (once per
    school, kind and week) where the week exceeds :func:`alert_threshold`, and send each
    alert recorded now to the school's authority with its figures (``statistics.
    alert_raised``, through ``emit``: alerts are rare, one message each). One grouped
    statement over the periods of those nine weeks: a row per school and kind whose week
    exceeds :data:`WARNING_FLOOR` (no threshold is lower), with its nine weekly counts. A
    September's ~17 million registrations are counted in the database, not fetched."""
    low, _ = _beijing_bounds(week_start - timedelta(weeks=WARNING_WEEKS), week_start)
    kind = case(
        (_period.c.prev_status.is_(None), literal("registrations")),
        (
            and_(
                _period.c.status.in_(_DEPARTED),
                _period.c.prev_status.notin_(_DEPARTED),
            ),
            literal("departures"),
        ),
        else_=literal(None),
    ).label("kind")
    # week k runs from Beijing midnight low + k weeks (China keeps no summer time)
    starts = [low + timedelta(weeks=k) for k in range(WARNING_WEEKS + 2)]
    periods = (
        select(_period.c.school_code, _period.c.province_code, kind, _period.c.valid_from)
        .where(_period.c.valid_from >= starts[0], _period.c.valid_from < starts[-1])
        .subquery()
    )
    at = periods.c.valid_from
    in_week = [
        func.sum(case((and_(at >= starts[k], at < starts[k + 1]), 1), else_=0))
        for k in range(WARNING_WEEKS + 1)
    ]
    query = (
        select(periods.c.school_code, periods.c.province_code, periods.c.kind, *in_week)
        .where(periods.c.kind.is_not(None))
        .group_by(periods.c.school_code, periods.c.province_code, periods.c.kind)
        .having(in_week[-1] > WARNING_FLOOR)
    )
    weeks = {
        (school, province, what): [int(n) for n in counts]
        for school, province, what, *counts in await session.execute(query)
    }
    raised: list[Alert] = []
    for (school, province, what), counts in sorted(weeks.items()):
        baseline, stdev, threshold = alert_baseline(counts[:-1])
        if counts[-1] <= threshold:
            continue
        known = federation.school(school)
        authority = str(known.authority_unit) if known else f"province:{province}"
        raised.append(
            Alert(
                str(uuid.uuid4()),
                school,
                province,
                authority,
                what,
                week_start,
                counts[-1],
                round(baseline, 2),
                round(threshold, 2),
                now,
                round(stdev, 2),
            )
        )
    if raised:
        recorded = await _recorded(session, week_start, {a.school_code for a in raised})
        dialect = session.get_bind().dialect.name
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_alert)
        await session.execute(
            stmt.on_conflict_do_nothing(index_elements=["school_code", "kind", "week_start"]),
            [vars(a) for a in raised],
        )
        new = [a for a in raised if (a.school_code, a.kind) not in recorded]
        if emit is not None:
            for alert in new:
                await send_alert(emit, alert)
    return raised


async def _recorded(
    session: AsyncSession, week_start: date, schools: set[str]
) -> set[tuple[str, str]]:
    """The (school, kind) alerts of ``schools`` already recorded for the week (through the
    unique index on (school, kind, week))."""
    query = select(_alert.c.school_code, _alert.c.kind).where(
        _alert.c.school_code.in_(sorted(schools)), _alert.c.week_start == week_start
    )
    return {(school, kind) for school, kind in await session.execute(query)}


async def send_alert(emit: Emit, alert: Alert) -> None:
    """``statistics.alert_raised`` to the school's authority (N2025 art. 23)."""
    await emit(
        AlertRaised(
            alert_id=uuid.UUID(alert.alert_id),
            school_code=alert.school_code,
            kind=alert.kind,
            week_start=alert.week_start,
            observed=alert.observed,
            mean=alert.baseline,
            stdev=alert.stdev,
            threshold=alert.threshold,
            weeks=WARNING_WEEKS,
        ),
        target=UnitRef.parse(alert.authority_unit),
    )


async def alerts(
    session: AsyncSession, federation: Federation, unit: UnitRef, since: date
) -> list[Alert]:
    """The alerts of the schools under ``unit`` for the weeks from ``since``."""
    scope = scope_of(federation, unit)
    query = (
        select(_alert)
        .where(_alert.c.week_start >= since, scope.period_filter(_alert))
        .order_by(_alert.c.week_start.desc(), _alert.c.school_code, _alert.c.kind)
    )
    return [
        Alert(**{**row._asdict(), "raised_at": _utc(row.raised_at)})
        for row in await session.execute(query)
    ]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def alert_gauge(session: AsyncSession, today: date) -> dict[tuple[str, ...], float]:
    """``{(province, kind): alerts}`` of the last four weeks: the Prometheus gauge."""
    query = (
        select(_alert.c.province_code, _alert.c.kind, func.count())
        .where(_alert.c.week_start >= today - timedelta(weeks=4))
        .group_by(_alert.c.province_code, _alert.c.kind)
    )
    return {(p, k): float(n) for p, k, n in await session.execute(query)}
