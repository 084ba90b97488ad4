"""Building blocks for tests of the approval desk and the province archive.

Messages are applied the way the consumer applies them (the registered handler, inside one
transaction, with the envelope as context); what a handler or request emitted is read back
from the outbox, where it waits for the relay.
"""

from __future__ import annotations

import asyncio
import base64
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from components.approval_desk import decisions
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision
from devtools.testing import instance_name
from shared.clock import Clock
from shared.contracts.registration import (
    ArchiveFiled,
    ArchiveItem,
    KeyFieldChanges,
    KeyFieldChangeSubmitted,
    ProofDocument,
    RegistrationBatchSubmitted,
    RegistrationItem,
)
from shared.contracts.students import BasicInfo, ExtendedInfo, Gender, Guardian, IdType
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import Contract, Envelope, build_envelope
from shared.messaging.tables import outbox
from shared.messaging.testing import InProcessDelivery
from shared.resident_id import student_number_for
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from tests.databases import migrate_to_head
from tests.ids import fresh_resident_id

ZHONGYUAN = "410102"  # a county of Henan (41) hosted by instance county-41
PRIMARY = "4101020001"  # a primary school under it
PROVINCE_DIRECT = "4100000001"  # county 410105, but its authority is the province
HANGZHOU_SCHOOL = "3301020001"  # a school of Zhejiang (33)

_rng = random.Random(2013)


def unit(tier: Tier, code: str) -> UnitRef:
    return UnitRef(tier=tier, code=code)


def settings_for(config: Path, instance: str, database_url: str, amqp_url: str) -> ServiceSettings:
    return ServiceSettings(
        env="test",
        instance=instance_name(config, instance),
        federation_config=config,
        database_url=database_url,
        amqp_url=amqp_url,
        auto_migrate=False,
        retry_delays_ms=(50, 100, 200),
        relay_poll_interval=0.1,
    )


async def migrate(tier: str, database_url: str) -> None:
    """Upgrade a test database to the tier's head revision (Alembic runs its own loop)."""
    await asyncio.to_thread(migrate_to_head, tier, database_url)


def basic(
    *,
    grade: int = 1,
    birth: date = date(2018, 3, 1),
    gender: Gender = "male",
    id_type: IdType = IdType.RESIDENT_ID,
    id_number: str | None = None,
    name: str = "张三",
) -> BasicInfo:
    if id_type is IdType.RESIDENT_ID and id_number is None:
        id_number = fresh_resident_id(_rng, "410102", birth, gender)
    return BasicInfo(
        name=name,
        gender=gender,
        birth_date=birth,
        id_type=id_type,
        id_number=id_number,
        grade=grade,
        enrolled_on=Clock().today(),  # registered on time (N2013 art. 7): no finding
    )


def batch(school: str = PRIMARY, *infos: BasicInfo, size: int = 3) -> RegistrationBatchSubmitted:
    infos = infos or tuple(basic() for _ in range(size))
    return RegistrationBatchSubmitted(
        batch_id=uuid.uuid4(),
        school_code=school,
        items=tuple(RegistrationItem(registration_id=uuid.uuid4(), basic=b) for b in infos),
    )


def filing(submitted: RegistrationBatchSubmitted) -> ArchiveFiled:
    """The extended-info filing that goes with a batch (school → province)."""
    extended = ExtendedInfo(
        guardians=(Guardian(name="李四", relation="mother", phone="13800000000"),),
        address="郑州市中原区建设路 1 号",
        hukou_region="410102",
    )
    return ArchiveFiled(
        batch_id=submitted.batch_id,
        school_code=submitted.school_code,
        items=tuple(
            ArchiveItem(registration_id=i.registration_id, basic=i.basic, extended=extended)
            for i in submitted.items
        ),
    )


def key_field_change(
    school: str = PRIMARY, *, student_number: str | None = None, name: str = "张三丰"
) -> KeyFieldChangeSubmitted:
    return KeyFieldChangeSubmitted(
        change_id=uuid.uuid4(),
        school_code=school,
        student_number=student_number or student_number_for(basic().id_number or ""),
        changes=KeyFieldChanges(name=name),
        reason="name changed at the household registry",
        proofs=(
            ProofDocument(
                kind="hukou_proof",
                filename="户口本.pdf",
                content_base64=base64.b64encode(b"%PDF-1.4 proof").decode(),
            ),
        ),
    )


async def deliver(
    runtime: ServiceRuntime, payload: Contract, *, source: UnitRef, target: UnitRef
) -> Envelope:
    """Apply ``payload`` through the runtime's handler as the consumer would."""
    envelope = build_envelope(payload, source=source, target=target)
    await apply(runtime, envelope)
    return envelope


async def apply(runtime: ServiceRuntime, envelope: Envelope) -> None:
    """Apply an envelope (e.g. one the service staged for itself) as the consumer would."""
    await InProcessDelivery(runtime.sessions, runtime.handlers).apply([envelope])


async def staged(runtime: ServiceRuntime, message_type: str | None = None) -> list[Envelope]:
    """Messages the service emitted (staged in its outbox), oldest first."""
    async with runtime.sessions() as session:
        query = select(outbox.c.body).order_by(outbox.c.id)
        if message_type is not None:
            query = query.where(outbox.c.message_type == message_type)
        bodies = (await session.execute(query)).scalars().all()
    return [Envelope.model_validate_json(body) for body in bodies]


def payloads(envelopes: Sequence[Envelope], target: UnitRef | None = None) -> list[dict[str, Any]]:
    return [e.payload for e in envelopes if target is None or e.target == target]


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 20.0, interval: float = 0.05
) -> None:
    """Poll ``check`` until it holds, failing after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


async def decide(desk: ApprovalDesk, task_id: uuid.UUID, decision: Decision) -> None:
    """An officer's decision as a request makes it: the use case in a unit of work, then the
    commit (the request is the boundary)."""
    async with desk.runtime.unit_of_work() as uow:
        await decisions.decide(desk, uow, task_id, decision)
        await uow.commit()
