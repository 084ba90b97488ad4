"""Test data for the national tier: applicants, batches, and a driver that applies messages
to a real (migrated) national database the way the consumer does."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from services.national.entrypoints import messages
from shared.contracts.registration import (
    KeyFieldChangeApproved,
    KeyFieldChanges,
    RegistrationBatchApproved,
    RegistrationItem,
)
from shared.contracts.students import BasicInfo, IdType
from shared.db.engine import SessionFactory
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef, load_federation
from shared.federation.testing import REPO_CONFIG
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.tables import outbox
from shared.resident_id import generate_resident_id

SCHOOL = "4101020001"  # county 410102, province 41
OTHER_SCHOOL_SAME_COUNTY = "4101020002"
ZHEJIANG_SCHOOL = "3301020001"  # county 330102, province 33
PROVINCE_DIRECT_SCHOOL = "4100000001"  # authority: province 41, located in county 410105

FEDERATION: Federation = load_federation(REPO_CONFIG)
_rng = random.Random(20240901)


def authority_of(school_code: str) -> UnitRef:
    school = FEDERATION.school(school_code)
    assert school is not None
    return school.authority_unit


def resident_id(birth: date, gender: str, division: str = "410102") -> str:
    return generate_resident_id(_rng, division, birth, "male" if gender == "male" else "female")


def basic(
    name: str,
    gender: str = "male",
    birth: date = date(2018, 3, 14),
    *,
    id_type: IdType = IdType.RESIDENT_ID,
    id_number: str | None = None,
    grade: int = 1,
) -> BasicInfo:
    """Basic info; a resident ID matching birth date and gender is made up when needed."""
    if id_type is IdType.RESIDENT_ID and id_number is None:
        id_number = resident_id(birth, gender)
    if id_type is IdType.PASSPORT and id_number is None:
        id_number = f"E{_rng.randrange(10**8):08d}"
    return BasicInfo(
        name=name,
        gender=gender,
        birth_date=birth,
        id_type=id_type,
        id_number=id_number,
        grade=grade,
        enrolled_on=date(2024, 9, 1),
    )


def item(info: BasicInfo) -> RegistrationItem:
    return RegistrationItem(registration_id=uuid.uuid4(), basic=info)


def batch(*infos: BasicInfo, school: str = SCHOOL) -> RegistrationBatchApproved:
    return RegistrationBatchApproved(
        batch_id=uuid.uuid4(),
        school_code=school,
        authority=str(authority_of(school)),
        items=tuple(item(info) for info in infos),
    )


def key_change(
    student_number: str,
    school: str = SCHOOL,
    *,
    name: str | None = None,
    id_type: IdType | None = None,
    id_number: str | None = None,
) -> KeyFieldChangeApproved:
    return KeyFieldChangeApproved(
        change_id=uuid.uuid4(),
        school_code=school,
        student_number=student_number,
        changes=KeyFieldChanges(name=name, id_type=id_type, id_number=id_number),
        authority=str(authority_of(school)),
    )


@dataclass
class NationalDriver:
    """Applies messages to the national handlers in one transaction each, like the consumer,
    and returns the envelopes they staged in the outbox."""

    sessions: SessionFactory
    handlers: HandlerRegistry = field(default_factory=HandlerRegistry)

    def __post_init__(self) -> None:
        messages.register(self.handlers, FEDERATION)

    async def deliver(self, payload: Contract, *, source: UnitRef | None = None) -> list[Envelope]:
        source = source or authority_of(getattr(payload, "school_code"))  # noqa: B009
        envelope = build_envelope(payload, source=source, target=NATIONAL)
        found = self.handlers.lookup(envelope.type, envelope.schema_version)
        assert found is not None
        before = await self.last_outbox_id()
        async with self.sessions() as session, session.begin():
            await found[1](HandlerContext(session, envelope), payload)
        return await self.staged_since(before)

    async def staged_since(self, last_id: int) -> list[Envelope]:
        async with self.sessions() as session:
            bodies = await session.scalars(
                select(outbox.c.body).where(outbox.c.id > last_id).order_by(outbox.c.id)
            )
            return [Envelope.model_validate_json(body) for body in bodies]

    async def last_outbox_id(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.max(outbox.c.id))) or 0)


def outcomes_of(envelope: Envelope) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = envelope.payload["outcomes"]
    return outcomes


def targets(envelopes: list[Envelope]) -> list[str]:
    return [str(e.target) for e in envelopes]


def school_unit(code: str) -> str:
    return str(UnitRef(tier=Tier.SCHOOL, code=code))
