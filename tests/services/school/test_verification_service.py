"""The school's roster confirmation in a term check (N2013 art. 24), on a real database
(SQLite, PostgreSQL): only for a campaign opened for the school, the roster minus those not
attending plus those attending off-roster, one message to national; each refused line named."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.school.entrypoints import messages
from services.school.service_layer import verification
from services.school.service_layer.errors import InvalidInput
from shared.contracts.verification import RosterLine, VerificationCampaignOpened
from shared.db.engine import SessionFactory
from shared.federation.config import NATIONAL
from shared.messaging.envelope import build_envelope
from shared.messaging.handlers import HandlerContext
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import NotFound
from tests.services.school.conftest import PRIMARY, school_ref, staged
from tests.services.school.test_graduation_service import NOW, on_roster

TODAY = date(2027, 3, 10)


async def opened(sessions: SessionFactory) -> uuid.UUID:
    message = VerificationCampaignOpened(
        campaign_id=uuid.uuid4(),
        term="2027-spring",
        school_code=PRIMARY.code,
        opened_on=TODAY,
        opened_by="province:41",
    )
    envelope = build_envelope(message, source=NATIONAL, target=school_ref())
    for _ in range(2):  # a second copy is kept once
        async with sessions() as session, session.begin():
            await messages.on_campaign_opened(HandlerContext(session, envelope), message)
    return message.campaign_id


async def confirm(
    sessions: SessionFactory,
    campaign_id: uuid.UUID,
    not_attending: list[str] | None = None,
    also: list[RosterLine] | None = None,
) -> int:
    async with UnitOfWork(sessions) as uow:
        result = await verification.confirm_roster(
            uow, PRIMARY, campaign_id, not_attending or [], also or [], today=TODAY, now=NOW
        )
        await uow.commit()
        return result


async def test_the_confirmed_roster_goes_to_national(sessions: SessionFactory) -> None:
    here, absent = await on_roster(sessions, 3), await on_roster(sessions, 4)
    await on_roster(sessions, 6, "graduated")  # not enrolled: not confirmed either way
    off_roster = RosterLine(student_number="G" + "4" * 18, grade=2)
    campaign_id = await opened(sessions)

    assert await confirm(sessions, campaign_id, [absent], [off_roster]) == 2

    [sent] = await staged(sessions)
    assert (sent.type, str(sent.target)) == ("verification.roster_confirmed", "national:CN")
    lines = {line["student_number"]: line["grade"] for line in sent.payload["attending"]}
    assert lines == {here: 3, off_roster.student_number: 2}
    async with sessions() as session:
        [row] = await verification.campaigns(session, PRIMARY.code)
    assert (row.attending, row.not_attending, row.term) == (2, 1, "2027-spring")


async def test_refusals(sessions: SessionFactory) -> None:
    here = await on_roster(sessions, 3)
    with pytest.raises(NotFound) as unknown:
        await confirm(sessions, uuid.uuid4())
    assert unknown.value.rule == "campaign_not_open"
    campaign_id = await opened(sessions)
    with pytest.raises(InvalidInput) as bad:
        await confirm(
            sessions,
            campaign_id,
            ["G" + "1" * 18],
            [RosterLine(student_number=here, grade=3)],
        )
    assert [(v.field, v.rule) for v in bad.value.violations] == [
        ("not_attending.0", "not_on_roster"),
        ("also_attending.0.student_number", "already_on_roster"),
    ]
    assert await staged(sessions) == []
