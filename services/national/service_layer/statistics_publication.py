"""Use case: national sends each county and each province its basic figures of a day (分级汇总,
ZJ art. 5; decision 0047) — counts as messages, one per receiving unit and period.

For a Beijing day, per province: the census at the end of the day by school, grade, gender and
status (one grouped statement over the status history, the ``as_of`` census of
:func:`.statistics.headcount`) and the day's movements of every county (one grouped statement,
:func:`.statistics.movements_by_county`); then one ``statistics.county_figures`` to each county
(its schools' rows and its movements) and one ``statistics.province_figures`` to the province
(the same rows summed by county). Each receiver keeps them in its own database; a second run
of the same day sends the same figures again, which the receivers replace.

The figures go to the unit they describe, which sees its own numbers unsuppressed (decision
0039): no small-count suppression applies.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.national.service_layer import statistics
from shared.contracts.statistics import (
    CountyFigures,
    HeadcountRow,
    MovementCounts,
    ProvinceFigures,
)
from shared.federation.config import Federation, Tier, UnitRef
from shared.messaging.emit import Emit

log = logging.getLogger(__name__)

PUBLISHER = "national:CN"
_BY = ("school", "grade", "gender", "status")


@dataclass(frozen=True)
class Published:
    period: date
    counties: int  # messages to counties
    provinces: int  # messages to provinces
    rows: int  # headcount rows in the county messages


async def publish_day(
    session: AsyncSession, emit: Emit, federation: Federation, day: date, now: datetime
) -> Published:
    """Send every hosted county and province its basic figures of ``day``."""
    as_of = statistics.end_of_day(day)
    counties = provinces = rows = 0
    for province in federation.provinces:
        unit = UnitRef(tier=Tier.PROVINCE, code=province.code)
        census = await statistics.headcount(session, federation, unit, _BY, as_of)
        by_county: dict[str, list[HeadcountRow]] = defaultdict(list)
        summed: Counter[tuple[str, int, str, str]] = Counter()
        for row in census.rows:
            school, grade, gender, status = (row.keys[d] for d in _BY)
            home = _county(federation, school)
            n = int(row.students or 0)
            by_county[home].append((school, int(grade), gender, status, n))
            summed[(home, int(grade), gender, status)] += n
        moved = await statistics.movements_by_county(session, federation, province.code, day, day)
        for county in (c for c in federation.counties if c.province == province.code):
            target = UnitRef(tier=Tier.COUNTY, code=county.code)
            if federation.instance_hosting(target) is None:
                continue
            report = moved[county.code]
            await emit(
                CountyFigures(
                    county_code=county.code,
                    period=day,
                    computed_at=now,
                    as_of=as_of,
                    rows=tuple(by_county.get(county.code, ())),
                    movements=MovementCounts(
                        counts=report.counts,
                        transfers=report.transfers,
                        other_provinces=report.other_provinces,
                    ),
                ),
                target=target,
            )
            counties += 1
            rows += len(by_county.get(county.code, ()))
        if federation.instance_hosting(unit) is not None:
            await emit(
                ProvinceFigures(
                    province_code=province.code,
                    period=day,
                    computed_at=now,
                    as_of=as_of,
                    rows=tuple((*key, n) for key, n in sorted(summed.items())),
                ),
                target=unit,
            )
            provinces += 1
    log.info("figures of %s sent: %d counties (%d rows), %d provinces", day, counties, rows,
             provinces)  # fmt: skip
    return Published(day, counties, provinces, rows)


def _county(federation: Federation, school_code: str) -> str:
    known = federation.school(school_code)
    return known.county if known else school_code[:6]
