"""Test data for the national tier: applicants, batches, and a driver that applies messages
to a real (migrated) national database the way the consumer does."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from devtools.testing import REPO_CONFIG
from services.national.adapters.orm import RegistryEntry
from services.national.adapters.transfer_repository import LoadedTransfer, TransferRepository
from services.national.entrypoints import messages
from services.national.service_layer.transfers.context import TransferDeps
from services.national.service_layer.transfers.deadlines import SweepReport, sweep_deadlines
from services.national.service_layer.transfers.notices import Outbox
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.clock import Clock
from shared.contracts.registration import (
    KeyFieldChangeApproved,
    KeyFieldChanges,
    RegistrationBatchApproved,
    RegistrationItem,
)
from shared.contracts.students import BasicInfo, IdType
from shared.contracts.transfer import ProofRef, TransferRequested, TransferStepDecided
from shared.db.engine import AsyncSession, SessionFactory
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef, load_federation
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.tables import outbox
from shared.messaging.testing import InProcessDelivery
from tests.ids import fresh_resident_id_in

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


# Zhengzhou's districts: 中原, 二七, 管城, 金水, 上街, 惠济 (the first one's IDs run out after 500
# children of one birthday and sex, and the builders give every child of a grade one birthday)
DIVISIONS = ("410102", "410103", "410104", "410105", "410106", "410108")


def resident_id(birth: date, gender: str) -> str:
    sex = "male" if gender == "male" else "female"
    return fresh_resident_id_in(_rng, DIVISIONS, birth, sex)


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
    and returns the envelopes they staged in the outbox. ``today`` is national's date."""

    sessions: SessionFactory
    handlers: HandlerRegistry = field(default_factory=HandlerRegistry)
    config: Path = REPO_CONFIG
    today: date = date(2026, 9, 7)

    def __post_init__(self) -> None:
        self.deps = TransferDeps(Rulebook(FEDERATION, self.config), Clock(self.today))
        messages.register(self.handlers, FEDERATION, self.deps)
        self.delivery = InProcessDelivery(self.sessions, self.handlers)

    def set_today(self, day: date) -> None:
        self.today = day
        self.deps.clock = Clock(day)

    async def deliver(self, payload: Contract, *, source: UnitRef | None = None) -> list[Envelope]:
        source = source or authority_of(getattr(payload, "school_code"))  # noqa: B009
        delivered = await self.delivery.deliver(payload, source=source, target=NATIONAL)
        return delivered.staged

    async def deliver_run(self, run: list[tuple[Contract, UnitRef]]) -> list[Envelope]:
        """Apply consecutive messages of one type (``(payload, source)``) as the consumer
        applies a run of a delivery batch: at once, through the set-based handler, in one
        transaction; returns the envelopes staged."""
        envelopes = [build_envelope(p, source=s, target=NATIONAL) for p, s in run]
        assert self.handlers.many(envelopes[0].type, envelopes[0].schema_version) is not None
        return (await self.delivery.apply(envelopes)).staged

    async def request(
        self, payload: TransferRequested, *, source: UnitRef | None = None
    ) -> list[Envelope]:
        """Deliver a transfer request, by default from the receiving school."""
        receiving = UnitRef(tier=Tier.SCHOOL, code=payload.to_school)
        return await self.deliver(payload, source=source or receiving)

    async def decide(
        self, opened: Envelope, unit: str | None = None, **options: Any
    ) -> list[Envelope]:
        """Deliver the decision on the step ``opened`` announced (by default its party's)."""
        payload, sender = decision(opened, unit, **options)
        return await self.deliver(payload, source=sender)

    async def sweep(self, as_of: date) -> tuple[SweepReport, list[Envelope]]:
        before = await self.last_outbox_id()
        async with self.sessions() as session, session.begin():
            report = await sweep_deadlines(
                TransferRepository(session),
                Outbox(session),
                self.deps.rulebook,
                as_of,
                datetime.now(UTC),
            )
        return report, await self.staged_since(before)

    async def transfer(self, transfer_id: str | uuid.UUID) -> LoadedTransfer:
        async with self.sessions() as session:
            loaded = await TransferRepository(session).load(uuid.UUID(str(transfer_id)))
        assert loaded is not None
        return loaded

    async def entry(self, student_number: str) -> RegistryEntry:
        async with self.sessions() as session:
            found = await session.scalar(
                select(RegistryEntry).where(RegistryEntry.student_number == student_number)
            )
        assert found is not None
        return found

    async def set_status(self, student_number: str, status: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(RegistryEntry)
                .where(RegistryEntry.student_number == student_number)
                .values(status=status)
            )

    async def set_grade(self, student_number: str, grade: int) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(RegistryEntry)
                .where(RegistryEntry.student_number == student_number)
                .values(grade=grade)
            )

    async def set_claim(self, student_number: str, holder: str | None) -> None:
        """Hold the student for a transfer (or progression) ``holder``."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(RegistryEntry)
                .where(RegistryEntry.student_number == student_number)
                .values(active_transfer_id=holder)
            )

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


# -- transfers --------------------------------------------------------------------------

HENAN_OTHER_COUNTY = "4101050001"  # county 410105, province 41
ZHEJIANG_OTHER_COUNTY = "3301060001"  # county 330106, province 33
SICHUAN_SCHOOL = "5134010001"  # county 513401, province 51
SICHUAN_OTHER_COUNTY = "5101040001"  # county 510104, province 51
IN_WINDOW = date(2026, 9, 7)  # a Monday inside Henan's and Zhejiang's windows


async def enrol(
    national: NationalDriver, school: str = SCHOOL, *, grade: int = 1, name: str = "张伟"
) -> str:
    """Register one student at ``school``; returns the student number."""
    birth = date(2019 - grade, 3, 14)
    envelopes = await national.deliver(batch(basic(name, birth=birth, grade=grade), school=school))
    [outcome] = outcomes_of(envelopes[0])
    assert outcome["outcome"] == "issued", outcome
    number: str = outcome["student_number"]
    return number


def transfer_request(
    student_number: str,
    from_school: str = SCHOOL,
    to_school: str = HENAN_OTHER_COUNTY,
    *,
    grade: int = 1,
    requested_on: date = IN_WINDOW,
    proofs: tuple[ProofRef, ...] = (),
) -> TransferRequested:
    return TransferRequested(
        transfer_id=uuid.uuid4(),
        student_number=student_number,
        from_school=from_school,
        to_school=to_school,
        grade=grade,
        class_name="三年级二班",
        reason="the family moved",
        requested_on=requested_on,
        proofs=proofs,
    )


def origin_proof() -> ProofRef:
    return ProofRef(index=0, kind="origin_registration_proof")


def decision(
    opened: Envelope,
    unit: str | None = None,
    *,
    approve: bool = True,
    reason: str | None = None,
    intervention: bool = False,
    rule: str | None = None,
) -> tuple[TransferStepDecided, UnitRef]:
    """The decision on the step ``opened`` announced, sent by ``unit`` (default: its party)."""
    sender = UnitRef.parse(unit or str(opened.target))
    payload = TransferStepDecided(
        transfer_id=opened.payload["transfer_id"],
        step_id=opened.payload["step_id"],
        decision="approve" if approve else "reject",
        reason=reason,
        decided_by="王老师",
        decided_unit=str(sender),
        intervention=intervention,
        rule=rule,
    )
    return payload, sender


def of_type(envelopes: list[Envelope], message_type: str) -> list[Envelope]:
    return [e for e in envelopes if e.type == message_type]


def count_rows_read(session: AsyncSession, mentioning: str = "") -> list[int]:
    """Make ``session`` note how many rows each statement it runs returns (those whose SQL
    mentions ``mentioning``): what a use case fetches, in the order it asked. The list fills
    as the session is used."""
    read: list[int] = []
    execute = session.execute

    async def counting(statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await execute(statement, *args, **kwargs)
        if not result.returns_rows or mentioning not in str(statement):
            return result
        rows = result.all()
        read.append(len(rows))
        return rows

    session.execute = counting  # type: ignore[method-assign]
    return read
