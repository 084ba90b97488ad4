"""The school service for transfer tests: built on a migrated database with a pinned date,
its runtime not started — messages are applied through its own handlers, what it emits stays
in its outbox, and HTTP goes through ASGI."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from devtools.testing import federation_copy, instance_name
from services.school.bootstrap import build_app
from services.school.service_layer import registration
from shared.audit.tables import audit_entry
from shared.contracts.registration import (
    RegistrationBatchDecided,
    RegistrationOutcome,
)
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import ProofRef, StudentSummary, TransferStepOpened
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import Contract, Envelope
from shared.messaging.tables import outbox
from shared.messaging.testing import InProcessDelivery
from shared.resident_id import student_number_for
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL, ServiceSettings
from shared.security.testing import UnitAuth
from tests.databases import migrate_to_head
from tests.services.school.conftest import EXTENDED, basic

TODAY = date(2026, 9, 7)  # a Monday in Henan's autumn transfer window
ZHONGYUAN_PRIMARY = "4101020001"  # Henan, county 410102
JINSHUI_PRIMARY = "4101050001"  # Henan, county 410105 (same instance: school-41)
HANGZHOU_PRIMARY = "3301020001"  # Zhejiang (instance school-33)
XICHANG_PRIMARY = "5134010001"  # Sichuan


def school_ref(code: str) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=code)


def proof(kind: str = "application_form", content: bytes = b"%PDF-1.4 form") -> dict[str, str]:
    return {
        "kind": kind,
        "filename": f"{kind}.pdf",
        "content_base64": base64.b64encode(content).decode(),
    }


@dataclass
class School:
    runtime: ServiceRuntime
    client: httpx.AsyncClient

    async def deliver(
        self, payload: Contract, code: str = ZHONGYUAN_PRIMARY, source: UnitRef = NATIONAL
    ) -> Envelope:
        """Apply ``payload`` addressed to school ``code`` through the service's handler."""
        delivery = InProcessDelivery(self.runtime.sessions, self.runtime.handlers)
        delivered = await delivery.deliver(payload, source=source, target=school_ref(code))
        return delivered.envelope

    async def staged(self, message_type: str | None = None) -> list[Envelope]:
        async with self.runtime.sessions() as session:
            query = select(outbox.c.body).order_by(outbox.c.id)
            if message_type is not None:
                query = query.where(outbox.c.message_type == message_type)
            bodies = (await session.execute(query)).scalars().all()
        return [Envelope.model_validate_json(body) for body in bodies]

    async def audit_head(self) -> int:
        """The last audit entry's ``seq``."""
        async with self.runtime.sessions() as session:
            return int((await session.execute(select(func.max(audit_entry.c.seq)))).scalar() or 0)

    async def audit_since(self, seq: int) -> list[Any]:
        """The audit entries after ``seq``, in order."""
        async with self.runtime.sessions() as session:
            query = select(audit_entry).where(audit_entry.c.seq > seq).order_by(audit_entry.c.seq)
            return list((await session.execute(query)).all())

    async def enrol(self, code: str = ZHONGYUAN_PRIMARY, **overrides: Any) -> BasicInfo:
        """Register a student at school ``code`` and have national issue the number."""
        school = self.runtime.federation.school(code)
        assert school is not None
        info = basic(**overrides)
        async with self.runtime.unit_of_work() as uow:
            registration_id = await registration.register_student(
                uow, school, info, EXTENDED, today=TODAY
            )
            await uow.commit()
        number = student_number_for(info.id_number or "")
        outcome = RegistrationOutcome(
            registration_id=registration_id, outcome="issued", student_number=number
        )
        decided = RegistrationBatchDecided(
            batch_id=uuid.uuid4(), school_code=code, decided_by="national:CN", outcomes=(outcome,)
        )
        await self.deliver(decided, code)
        return info

    async def post_transfer_in(self, code: str, **body: Any) -> httpx.Response:
        return await self.client.post(f"/api/v1/schools/{code}/transfers-in", json=body)


def summary(info: BasicInfo, grade: int | None = None) -> StudentSummary:
    return StudentSummary(
        name=info.name, gender=info.gender, birth_date=info.birth_date, grade=grade or info.grade
    )


def step_opened(
    info: BasicInfo,
    *,
    from_school: str = ZHONGYUAN_PRIMARY,
    to_school: str = JINSHUI_PRIMARY,
    role: str = "sending_school",
    due_on: date = date(2026, 9, 21),
    transfer_id: uuid.UUID | None = None,
) -> TransferStepOpened:
    return TransferStepOpened.model_validate(
        {
            "transfer_id": transfer_id or uuid.uuid4(),
            "step_id": uuid.uuid4(),
            "role": role,
            "student_number": student_number_for(info.id_number or ""),
            "student": summary(info),
            "from_school": from_school,
            "to_school": to_school,
            "reason": "the family moved",
            "opened_on": date(2026, 9, 7),
            "due_on": due_on,
            "due_approximate": False,
            "proofs": (ProofRef(index=0, kind="application_form"),),
        }
    )


def completed_at() -> datetime:
    return datetime(2026, 9, 10, 2, 0, tzinfo=UTC)


@asynccontextmanager
async def school_service(
    directory: Path, database_url: str, rules: dict[str, dict[str, Any]] | None = None
) -> AsyncIterator[School]:
    """The school-41 instance (Henan's schools) with XUEJI_TODAY pinned to :data:`TODAY`."""
    await asyncio.to_thread(migrate_to_head, "school", database_url)
    config = federation_copy(directory, rules=rules)
    settings = ServiceSettings(
        env="test",
        instance=instance_name(config, "school-41"),
        federation_config=config,
        database_url=database_url,
        amqp_url=DEFAULT_AMQP_URL,
        auto_migrate=False,
        today=TODAY,
    )
    app = build_app(settings)
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://school",
            auth=UnitAuth("school:4101020001"),
        ) as client:
            yield School(runtime, client)
    finally:
        await runtime.engine.dispose()
