"""Term reports of the transfers of province-direct and city-run schools to the county they
are in (N2013 art. 18; decision 0034).

For a term end (one of a province's ``[status_change] term_ends``), national reads the
transfers completed in the term — one range query through ``ix_transfer_completed`` for all
the reporting schools of the province — and sends each such school's county one
``transfer.term_report`` with the school's transfers in and out (an empty report too: "none
this term" is what the county is told then). Operators run it (``POST /api/v1/operations/
transfer-term-reports``); running it again re-sends the same reports, which the county
replaces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import TransferRecord
from services.national.domain.transfer import TransferState
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.clock import CHINA, as_utc
from shared.contracts.transfer_report import TransferLine, TransferTermReport
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.emit import Emit

log = logging.getLogger(__name__)

REPORTING_AUTHORITIES = ("province", "city")  # N2013 art. 18: 省直管、设区的市直管学校


@dataclass(frozen=True)
class TermReports:
    term_end: date
    reports: int  # messages sent (one per reporting school)
    transfers: int  # lines in them
    provinces: tuple[str, ...]  # whose term ends on ``term_end``


def term_start(term_ends: tuple[str, ...], end: date) -> date | None:
    """The first day of the term ending on ``end``, or None when ``end`` is no term end of
    the province (its ``term_ends``, "MM-DD")."""
    if end.strftime("%m-%d") not in term_ends:
        return None
    ends = sorted(
        date(year, int(e[:2]), int(e[3:])) for year in (end.year - 1, end.year) for e in term_ends
    )
    previous = max(e for e in ends if e < end)
    return previous + timedelta(days=1)


async def send_term_reports(
    session: AsyncSession, emit: Emit, rulebook: Rulebook, term_end: date
) -> TermReports:
    reports = lines = 0
    provinces: list[str] = []
    for province in rulebook.federation.provinces:
        rules = rulebook.province_rules(province.code).status_change
        start = term_start(rules.term_ends, term_end)
        schools = [
            s
            for s in rulebook.federation.schools_under(province.code)
            if s.authority in REPORTING_AUTHORITIES
        ]
        if start is None or not schools:
            continue
        provinces.append(province.code)
        found = await _completed(session, {s.code for s in schools}, start, term_end)
        for school in schools:
            report = _report(school, found, start, term_end)
            county = UnitRef(tier=Tier.COUNTY, code=school.county)
            await emit(report, target=county)
            reports += 1
            lines += len(report.transfers_in) + len(report.transfers_out)
    log.info("transfer term reports for %s: %d reports, %d transfers", term_end, reports, lines)
    return TermReports(term_end, reports, lines, tuple(provinces))


def _beijing_midnight(day: date) -> datetime:
    """The start of a Beijing day, in UTC as the services store moments."""
    return as_utc(datetime.combine(day, time(), tzinfo=CHINA))


async def _completed(
    session: AsyncSession, schools: set[str], start: date, end: date
) -> list[TransferRecord]:
    """The transfers into or out of ``schools`` completed from ``start`` to ``end`` (Beijing
    dates, both included): one query, through the index on ``completed_at``."""
    rows = await session.scalars(
        select(TransferRecord)
        .where(
            TransferRecord.state == TransferState.COMPLETED.value,
            TransferRecord.completed_at >= _beijing_midnight(start),
            TransferRecord.completed_at < _beijing_midnight(end + timedelta(days=1)),
            or_(TransferRecord.from_school.in_(schools), TransferRecord.to_school.in_(schools)),
        )
        .order_by(TransferRecord.completed_at, TransferRecord.transfer_id)
    )
    return list(rows.all())


def _report(
    school: School, found: list[TransferRecord], start: date, end: date
) -> TransferTermReport:
    def line(record: TransferRecord, other: str) -> TransferLine:
        assert record.completed_at is not None
        completed = as_utc(record.completed_at).astimezone(CHINA).date()
        return TransferLine(
            student_number=record.student_number,
            other_school=other,
            grade=record.grade,
            completed_on=completed,
        )

    return TransferTermReport(
        school_code=school.code,
        term=end.isoformat(),
        period_start=start,
        period_end=end,
        transfers_in=tuple(line(r, r.from_school) for r in found if r.to_school == school.code),
        transfers_out=tuple(line(r, r.to_school) for r in found if r.from_school == school.code),
    )
