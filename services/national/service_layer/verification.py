"""Use cases: term re-verification campaigns and the county's unclaimed list (学籍核查,
N2013 art. 24; N2025 art. 25). Rules: :mod:`..domain.verification`.

- Opening a campaign (national for every school, or a province officer for the province's
  schools): one row, one ``verification.campaign_opened`` per school of the scope that an
  instance hosts (staged with one executemany), once per term and scope.
- A school's confirmation, compared set-based: one query for the school's enrolled students
  (the ``(school_code, student_number)`` index), one per 500 confirmed numbers; findings to
  the school's authority in one ``verification.findings`` (none when everything matches);
  the result kept per (campaign, school) — a school's second confirmation replaces it.
- The unclaimed list: one query on the partial index of students who left a school
  (decision 0016: ``updated_at`` stands for the day they left).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import (
    Placement,
    RegistryEntry,
    VerificationCampaign,
    VerificationSchool,
)
from services.national.domain.verification import (
    ATTENDING,
    LEFT_STATUSES,
    Registered,
    compare,
    unclaimed_before,
)
from shared.clock import CHINA
from shared.contracts.verification import (
    RosterConfirmed,
    VerificationCampaignOpened,
    VerificationFinding,
    VerificationFindings,
)
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.messaging.emit import Emit
from shared.messaging.envelope import build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.outbox import stage
from shared.runtime.errors import Conflict, DomainError, NotFound

RULE_CAMPAIGN_EXISTS = "campaign_exists"
RULE_UNKNOWN_SCOPE = "unknown_scope"
RULE_CAMPAIGN_OUT_OF_SCOPE = "school_not_in_campaign"

_entry: Table = RegistryEntry.__table__  # type: ignore[assignment]
_CHUNK = 500


# -- opening ---------------------------------------------------------------------------------


async def open_campaign(
    session: AsyncSession,
    federation: Federation,
    term: str,
    scope: str,
    opened_on: date,
    now: datetime,
) -> VerificationCampaign:
    """Open the term's campaign for ``scope`` (a province code, or ``CN``): tell each school."""
    if scope != "CN" and scope not in {p.code for p in federation.provinces}:
        raise DomainError(f"{scope} is not a province of the federation", rule=RULE_UNKNOWN_SCOPE)
    schools = [
        s
        for s in (federation.schools if scope == "CN" else federation.schools_under(scope))
        if federation.instance_hosting(UnitRef(tier=Tier.SCHOOL, code=s.code)) is not None
    ]
    opened_by = "national:CN" if scope == "CN" else f"province:{scope}"
    campaign = VerificationCampaign(
        campaign_id=str(uuid.uuid4()),
        term=term,
        scope=scope,
        opened_on=opened_on,
        opened_by=opened_by,
        schools=len(schools),
        created_at=now,
    )
    session.add(campaign)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"the {term} campaign of {scope} is open already", rule=RULE_CAMPAIGN_EXISTS
        ) from exc
    envelopes = [
        build_envelope(
            VerificationCampaignOpened(
                campaign_id=uuid.UUID(campaign.campaign_id),
                term=term,
                school_code=school.code,
                opened_on=opened_on,
                opened_by=opened_by,
            ),
            source=NATIONAL,
            target=UnitRef(tier=Tier.SCHOOL, code=school.code),
        )
        for school in schools
    ]
    await stage(session, envelopes, now)
    return campaign


# -- a school's confirmation -----------------------------------------------------------------


async def check_roster(
    session: AsyncSession,
    emit: Emit,
    federation: Federation,
    confirmed: RosterConfirmed,
    now: datetime,
) -> list[VerificationFinding]:
    """Compare the school's confirmed roster with the registry; findings to its authority."""
    campaign = await session.get(VerificationCampaign, str(confirmed.campaign_id))
    if campaign is None:
        raise PermanentMessageError(f"verification campaign {confirmed.campaign_id} is unknown")
    school = federation.school(confirmed.school_code)
    if school is None or (campaign.scope != "CN" and school.province != campaign.scope):
        raise PermanentMessageError(
            f"school {confirmed.school_code} is not in campaign {confirmed.campaign_id}"
        )
    lines = {line.student_number: line.grade for line in confirmed.attending}
    enrolled_here = await _enrolled_at(session, school.code)
    registry = await _registered(session, list(lines))
    placed_away, placed_here = await _placements(session, school.code)
    findings = [
        VerificationFinding(student_number=f.student_number, kind=f.kind, detail=f.detail)
        for f in compare(
            school.code,
            enrolled_here,
            lines,
            registry,
            placed_away=placed_away,
            placed_here=placed_here,
        )
    ]
    await _keep(session, confirmed, len(enrolled_here), findings, now)
    flagged = {f.student_number for f in findings}
    await _verified(
        session,
        school.code,
        [
            number
            for number, grade in lines.items()
            if number not in flagged
            and (found := registry.get(number)) is not None
            and (found.school_code, found.grade) == (school.code, grade)
        ],
        now,
    )
    if findings:
        await emit(
            VerificationFindings(
                campaign_id=confirmed.campaign_id,
                term=campaign.term,
                school_code=school.code,
                attending=len(lines),
                registered=len(enrolled_here),
                findings=tuple(findings),
            ),
            target=school.authority_unit,
        )
    return findings


async def _verified(
    session: AsyncSession, school_code: str, numbers: Sequence[str], now: datetime
) -> None:
    """The identities of the students the school confirmed attending in their registered
    grade, with no finding, are verified (人籍一致, N2013 art. 24; decision 0047): one UPDATE
    per 500 numbers through the student-number key. Not a counted fact of the history."""
    for start in range(0, len(numbers), _CHUNK):
        await session.execute(
            _entry.update()
            .where(
                _entry.c.student_number.in_(numbers[start : start + _CHUNK]),
                _entry.c.school_code == school_code,
            )
            .values(id_verified_at=now)
        )


async def _enrolled_at(session: AsyncSession, school_code: str) -> list[str]:
    rows = await session.execute(
        select(_entry.c.student_number).where(
            _entry.c.school_code == school_code, _entry.c.status == ATTENDING
        )
    )
    return list(rows.scalars())


async def _placements(session: AsyncSession, school_code: str) -> tuple[set[str], dict[str, str]]:
    """Students registered here attending elsewhere, and those attending here registered
    elsewhere (with that school), under a placement (N2013 art. 17); by the two indexes."""
    away = await session.execute(
        select(_entry.c.student_number)
        .join(Placement, Placement.entry_id == _entry.c.entry_id)
        .where(Placement.registered_school == school_code)
    )
    here = await session.execute(
        select(_entry.c.student_number, Placement.registered_school)
        .join(Placement, Placement.entry_id == _entry.c.entry_id)
        .where(Placement.attending_school == school_code)
    )
    return set(away.scalars()), {number: school for number, school in here}


async def _registered(session: AsyncSession, numbers: Sequence[str]) -> dict[str, Registered]:
    found: dict[str, Registered] = {}
    for start in range(0, len(numbers), _CHUNK):
        rows = await session.execute(
            select(
                _entry.c.student_number, _entry.c.school_code, _entry.c.grade, _entry.c.status
            ).where(_entry.c.student_number.in_(numbers[start : start + _CHUNK]))
        )
        found.update({n: Registered(s, int(g), st) for n, s, g, st in rows})
    return found


async def _keep(
    session: AsyncSession,
    confirmed: RosterConfirmed,
    registered: int,
    findings: Sequence[VerificationFinding],
    now: datetime,
) -> None:
    key = (
        VerificationSchool.campaign_id == str(confirmed.campaign_id),
        VerificationSchool.school_code == confirmed.school_code,
    )
    await session.execute(delete(VerificationSchool).where(*key))
    ghosts = sum(1 for f in findings if f.kind == "ghost")
    await session.execute(
        insert(VerificationSchool).values(
            campaign_id=str(confirmed.campaign_id),
            school_code=confirmed.school_code,
            confirmed_on=confirmed.confirmed_on,
            attending=len(confirmed.attending),
            registered=registered,
            ghosts=ghosts,
            mismatches=len(findings) - ghosts,
            findings=[f.model_dump(mode="json") for f in findings],
            checked_at=now,
        )
    )


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignView:
    campaign: VerificationCampaign
    schools: list[VerificationSchool]


async def read_campaign(session: AsyncSession, campaign_id: str) -> CampaignView:
    campaign = await session.get(VerificationCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found", rule="campaign_not_found")
    rows = await session.execute(
        select(VerificationSchool)
        .where(VerificationSchool.campaign_id == campaign_id)
        .order_by(VerificationSchool.school_code)
    )
    return CampaignView(campaign, list(rows.scalars()))


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign and its schools' confirmations so far, summed."""

    campaign: VerificationCampaign
    confirmed: int
    ghosts: int
    mismatches: int


async def list_campaigns(session: AsyncSession, scope: str, limit: int) -> list[CampaignSummary]:
    """The latest campaigns of ``scope``, newest first, each with its confirmations summed
    (one GROUP BY over the listed campaigns' rows, on the primary key)."""
    query = (
        select(VerificationCampaign)
        .where(VerificationCampaign.scope == scope)
        .order_by(VerificationCampaign.opened_on.desc(), VerificationCampaign.term.desc())
    )
    campaigns = list((await session.execute(query.limit(limit))).scalars())
    if not campaigns:
        return []
    school = VerificationSchool
    totals = await session.execute(
        select(
            school.campaign_id,
            func.count(),
            func.coalesce(func.sum(school.ghosts), 0),
            func.coalesce(func.sum(school.mismatches), 0),
        )
        .where(school.campaign_id.in_([c.campaign_id for c in campaigns]))
        .group_by(school.campaign_id)
    )
    summed = {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in totals}
    return [CampaignSummary(c, *summed.get(c.campaign_id, (0, 0, 0))) for c in campaigns]


@dataclass(frozen=True)
class Unclaimed:
    student_number: str
    school_code: str
    grade: int
    status: str
    left_on: date


async def unclaimed(
    session: AsyncSession, federation: Federation, county: str, as_of: date, days: int
) -> list[Unclaimed]:
    """Students who left a school of ``county`` ``days`` or more days before ``as_of`` and
    whom no school has taken back (their registration still shows them as left)."""
    schools = [s.code for s in federation.schools_of_county(county)]
    if not schools:
        raise NotFound(f"county {county} has no schools here", rule="county_not_found")
    rows = await session.execute(
        select(
            _entry.c.student_number,
            _entry.c.school_code,
            _entry.c.grade,
            _entry.c.status,
            _entry.c.updated_at,
        )
        .where(_entry.c.school_code.in_(schools), _entry.c.status.in_(LEFT_STATUSES))
        .order_by(_entry.c.updated_at, _entry.c.student_number)
    )
    last_day = unclaimed_before(as_of, days)
    found = []
    for number, school, grade, status, updated_at in rows:
        left_on = _beijing_date(updated_at)
        if left_on <= last_day:
            found.append(Unclaimed(number, school, int(grade), status, left_on))
    return found


def _beijing_date(moment: datetime) -> date:
    """SQLite hands timestamps back naive (they are UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(CHINA).date()
