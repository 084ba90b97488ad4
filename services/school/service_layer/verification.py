"""Use case: the school confirms its roster in a term's re-verification campaign (学籍核查,
N2013 art. 24; N2025 art. 25: people match records, procedures are complete).

National (or the province) opens a campaign and tells each school
(``verification.campaign_opened``). The registrar confirms the roster: every student the
roster has as ``enrolled`` is taken as attending except those listed ``not_attending``; students
who attend but are not on the roster (``also_attending``, e.g. admitted while their record is
still elsewhere) are added. One ``verification.roster_confirmed`` goes to national, which
compares it with the registry set-based and flags ghosts and mismatches to the authority.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import student, verification
from services.school.domain.students import StudentStatus, Violation
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.submission import school_unit
from shared.contracts.verification import RosterConfirmed, RosterLine, VerificationCampaignOpened
from shared.federation.config import NATIONAL, School
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import NotFound

RULE_NOT_ON_ROSTER = "not_on_roster"
RULE_ALREADY_ON_ROSTER = "already_on_roster"


async def record_campaign(session: AsyncSession, opened: VerificationCampaignOpened) -> None:
    """national → school: a campaign this school takes part in (kept once)."""
    found = await session.execute(
        select(verification.c.campaign_id).where(
            verification.c.campaign_id == str(opened.campaign_id),
            verification.c.school_code == opened.school_code,
        )
    )
    if found.first() is None:
        await session.execute(
            insert(verification).values(
                campaign_id=str(opened.campaign_id),
                school_code=opened.school_code,
                term=opened.term,
                opened_on=opened.opened_on,
                opened_by=opened.opened_by,
            )
        )


async def confirm_roster(
    uow: UnitOfWork,
    school: School,
    campaign_id: uuid.UUID,
    not_attending: Sequence[str],
    also_attending: Sequence[RosterLine],
    *,
    today: date,
    now: datetime,
) -> int:
    """Send the confirmed roster to national; how many students it lists as attending."""
    await campaign(uow.session, school.code, campaign_id)
    rows = await uow.session.execute(
        select(student.c.student_number, student.c.grade).where(
            student.c.school_code == school.code, student.c.status == StudentStatus.ENROLLED
        )
    )
    roster = {number: int(grade) for number, grade in rows}
    violations = [
        Violation(f"not_attending.{i}", RULE_NOT_ON_ROSTER, "not enrolled on this roster")
        for i, n in enumerate(not_attending)
        if n not in roster
    ] + [
        Violation(f"also_attending.{i}.student_number", RULE_ALREADY_ON_ROSTER, "on the roster")
        for i, line in enumerate(also_attending)
        if line.student_number in roster
    ]
    if violations:
        raise InvalidInput(violations)
    absent = set(not_attending)
    attending = [
        RosterLine(student_number=n, grade=g) for n, g in sorted(roster.items()) if n not in absent
    ]
    attending += list(also_attending)
    await uow.session.execute(
        update(verification)
        .where(
            verification.c.campaign_id == str(campaign_id),
            verification.c.school_code == school.code,
        )
        .values(confirmed_at=now, attending=len(attending), not_attending=len(absent))
    )
    confirmed = RosterConfirmed(
        campaign_id=campaign_id,
        school_code=school.code,
        confirmed_on=today,
        attending=tuple(attending),
    )
    emit = uow.emitter(school_unit(school))
    await emit(confirmed, target=NATIONAL)
    return len(attending)


async def campaign(session: AsyncSession, school_code: str, campaign_id: uuid.UUID) -> Row[Any]:
    row = (
        await session.execute(
            select(verification).where(
                verification.c.campaign_id == str(campaign_id),
                verification.c.school_code == school_code,
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"campaign {campaign_id} has not been opened for school {school_code}",
            rule="campaign_not_open",
        )
    return row


async def campaigns(session: AsyncSession, school_code: str) -> list[Row[Any]]:
    rows = await session.execute(
        select(verification)
        .where(verification.c.school_code == school_code)
        .order_by(verification.c.opened_on.desc())
    )
    return list(rows.all())
