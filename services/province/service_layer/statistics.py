"""Use case: the province's non-basic statistics (decision 0039) — computed where the data is.

National holds basic info only and counts heads by grade, gender, status …
(``services/national/service_layer/statistics.py``); the breakdowns that need non-basic info
are counted here, from the province's own archives, for the province and every unit below it:
migrant children (随迁子女), home instruction (送教上门, N2013 art. 6) and the Yi-language track
(一类模式, LS part 6: the students of the track's schools), plus what the province answers
for in data quality: archives not handed over in time (1 month, N2013 art. 15) and migrant
dropouts' archives not sent to the hukou county after the term. One grouped statement each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import Archive, ArchiveHandover, DropoutHandover
from services.province.domain.archive import OPEN_HANDOVER_STATES, ArchiveStatus
from shared.contracts.statistics import CountyExtended
from shared.federation.config import Federation, Tier, UnitRef
from shared.messaging.emit import Emit

_archive: Table = Archive.__table__  # type: ignore[assignment]
_handover: Table = ArchiveHandover.__table__  # type: ignore[assignment]
_dropout: Table = DropoutHandover.__table__  # type: ignore[assignment]
FIGURES = ("students", "migrant", "home_instruction", "yi_track")


@dataclass
class ExtendedFigures:
    unit: UnitRef
    as_of: date
    totals: dict[str, int]
    by_school: dict[str, dict[str, int]]
    archives_overdue: int  # cross-province hand-overs not received by their due date
    dropout_archives_overdue: int  # migrant dropouts' archives not sent after the term


def _schools_under(federation: Federation, unit: UnitRef) -> tuple[str, ...] | None:
    """The schools of a county, city or school; None for a whole province."""
    if unit.tier == Tier.PROVINCE:
        return None
    if unit.tier == Tier.SCHOOL:
        return (unit.code,)
    return tuple(s.code for s in federation.schools_under(unit.code))


def _flag(name: str) -> ColumnElement[Any]:
    return func.sum(case((_archive.c.extended[name].as_boolean(), 1), else_=0))


async def extended_figures(
    session: AsyncSession, federation: Federation, unit: UnitRef, today: date
) -> ExtendedFigures:
    """The non-basic breakdowns of the students with an active archive under ``unit``."""
    province = unit.code[:2]
    schools = _schools_under(federation, unit)
    query = select(
        _archive.c.school_code,
        func.count(),
        _flag("migrant"),
        _flag("home_instruction"),
    ).where(_archive.c.province == province, _archive.c.status == ArchiveStatus.ACTIVE)
    if schools is not None:
        query = query.where(_archive.c.school_code.in_(schools))
    per: dict[str, dict[str, int]] = defaultdict(dict)
    for school, students, migrant, home in await session.execute(
        query.group_by(_archive.c.school_code)
    ):
        known = federation.school(school)
        per[school] = {
            "students": int(students),
            "migrant": int(migrant or 0),
            "home_instruction": int(home or 0),
            "yi_track": int(students) if known is not None and known.yi_track else 0,
        }
    totals: Counter[str] = Counter()
    for figures in per.values():
        totals.update(figures)
    late = select(func.count()).where(
        _handover.c.province == province,
        _handover.c.state.in_([str(s) for s in OPEN_HANDOVER_STATES]),
        _handover.c.due_on < today,
    )
    if schools is not None:
        late = late.where(_handover.c.from_school.in_(schools))
    late_dropouts = select(func.count()).where(
        _dropout.c.province == province, _dropout.c.state == "waiting", _dropout.c.due_on < today
    )
    if schools is not None:
        late_dropouts = late_dropouts.where(_dropout.c.school_code.in_(schools))
    return ExtendedFigures(
        unit,
        today,
        {f: totals.get(f, 0) for f in FIGURES},
        dict(sorted(per.items())),
        int(await session.scalar(late) or 0),
        int(await session.scalar(late_dropouts) or 0),
    )


# -- the figures each county is sent (decision 0047) -------------------------------------------


@dataclass
class CountyExtendedFigures:
    rows: list[tuple[str, int, int, int, int]]  # school, students, migrant, home, yi_track
    archives_overdue: int = 0
    dropout_archives_overdue: int = 0


async def figures_by_county(
    session: AsyncSession, federation: Federation, province: str, today: date
) -> dict[str, CountyExtendedFigures]:
    """What :func:`extended_figures` answers for each county of ``province``, from three
    grouped statements for the whole province (never one per county)."""
    per = {c.code: CountyExtendedFigures([]) for c in federation.counties if c.province == province}
    whole = await extended_figures(
        session, federation, UnitRef(tier=Tier.PROVINCE, code=province), today
    )
    for school, figures in whole.by_school.items():
        county = _county_of(federation, school)
        if county in per:
            per[county].rows.append((school, *(figures[f] for f in FIGURES)))  # type: ignore[arg-type]
    late = (
        select(_handover.c.from_school, func.count())
        .where(
            _handover.c.province == province,
            _handover.c.state.in_([str(s) for s in OPEN_HANDOVER_STATES]),
            _handover.c.due_on < today,
        )
        .group_by(_handover.c.from_school)
    )
    for school, n in await session.execute(late):
        county = _county_of(federation, school)
        if county in per:
            per[county].archives_overdue += int(n)
    late_dropouts = (
        select(_dropout.c.school_code, func.count())
        .where(
            _dropout.c.province == province,
            _dropout.c.state == "waiting",
            _dropout.c.due_on < today,
        )
        .group_by(_dropout.c.school_code)
    )
    for school, n in await session.execute(late_dropouts):
        county = _county_of(federation, school)
        if county in per:
            per[county].dropout_archives_overdue += int(n)
    return per


def _county_of(federation: Federation, school_code: str) -> str:
    known = federation.school(school_code)
    return known.county if known else school_code[:6]


@dataclass(frozen=True)
class ExtendedPublished:
    province: str
    period: date
    counties: int


async def publish_counties(
    session: AsyncSession,
    emit: Emit,
    federation: Federation,
    province: str,
    period: date,
    today: date,
    now: datetime,
) -> ExtendedPublished:
    """One ``statistics.county_extended`` to each hosted county of ``province``: its schools'
    non-basic breakdowns as the archives stand now (``today``: the Beijing date overdue
    hand-overs are judged at), for ``period``."""
    sent = 0
    for county, figures in sorted(
        (await figures_by_county(session, federation, province, today)).items()
    ):
        target = UnitRef(tier=Tier.COUNTY, code=county)
        if federation.instance_hosting(target) is None:
            continue
        await emit(
            CountyExtended(
                county_code=county,
                period=period,
                computed_at=now,
                rows=tuple(figures.rows),
                archives_overdue=figures.archives_overdue,
                dropout_archives_overdue=figures.dropout_archives_overdue,
            ),
            target=target,
        )
        sent += 1
    return ExtendedPublished(province, period, sent)
