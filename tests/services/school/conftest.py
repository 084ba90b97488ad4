"""Fixtures of the school tier's tests: a migrated database, students, decisions."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from devtools.testing import REPO_CONFIG, federation_copy, instance_name
from services.school.bootstrap import build_app
from services.school.config import SchoolSettings
from services.school.entrypoints import messages
from services.school.entrypoints.http import today
from shared.contracts.registration import (
    RegistrationBatchDecided,
    RegistrationOutcome,
)
from shared.contracts.students import BasicInfo, ExtendedInfo, Guardian
from shared.db.engine import SessionFactory, make_engine, make_session_factory
from shared.federation.config import NATIONAL, School, Tier, UnitRef, load_federation
from shared.messaging.envelope import Contract, Envelope
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.tables import outbox
from shared.messaging.testing import InProcessDelivery
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security.testing import UnitAuth
from tests.databases import migrate_to_head
from tests.ids import fresh_resident_id

TODAY = date(2025, 3, 1)
FEDERATION = load_federation(REPO_CONFIG)


def school(code: str) -> School:
    found = FEDERATION.school(code)
    assert found is not None
    return found


PRIMARY = school("4101020001")  # county authority 410102, province 41
PROVINCE_DIRECT = school("4100000001")  # junior school whose authority is province 41

_rng = random.Random(20250301)


def resident_id(birth: date = date(2018, 3, 7), sex: str = "male", division: str = "410102") -> str:
    """A fresh valid resident ID (random sequence of the right parity)."""
    return fresh_resident_id(_rng, division, birth, sex)


def basic(**overrides: Any) -> BasicInfo:
    """A first-grader with a valid resident ID, enrolled last September."""
    fields: dict[str, Any] = {
        "name": "张三",
        "gender": "male",
        "birth_date": date(2018, 3, 7),
        "id_type": "resident_id",
        "grade": 1,
        "enrolled_on": date(2024, 9, 1),
        "ethnicity": "汉族",
    }
    fields.update(overrides)
    if "id_number" not in overrides:
        fields["id_number"] = resident_id(fields["birth_date"], fields["gender"])
    return BasicInfo.model_validate(fields)


EXTENDED = ExtendedInfo(
    guardians=(Guardian(name="张父", relation="父亲", phone="13800000000"),),
    address="郑州市中原区建设路 1 号",
    hukou_region="410102",
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A session factory on a freshly migrated school database."""
    await asyncio.to_thread(migrate_to_head, "school", database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


async def staged(sessions: SessionFactory) -> list[Envelope]:
    """Every message in the outbox, oldest first."""
    async with sessions() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    return [Envelope.model_validate_json(row.body) for row in rows]


def school_ref(code: str = PRIMARY.code) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=code)


async def deliver(
    sessions: SessionFactory, payload: Contract, target: UnitRef | None = None
) -> list[Envelope]:
    """Apply a message from national through the school's handlers, as its consumer would
    (one transaction); returns what they staged."""
    handlers = HandlerRegistry()
    messages.register(handlers)
    messages.register_decisions(handlers, FEDERATION)
    delivery = InProcessDelivery(sessions, handlers)
    delivered = await delivery.deliver(payload, source=NATIONAL, target=target or school_ref())
    return delivered.staged


def decided(*outcomes: RegistrationOutcome, code: str = PRIMARY.code) -> RegistrationBatchDecided:
    return RegistrationBatchDecided(
        batch_id=uuid.uuid4(), school_code=code, decided_by="national:CN", outcomes=outcomes
    )


# --- a running school service, spoken to over ASGI --------------------------------------


class Service:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app
        self.runtime: ServiceRuntime = app.state.runtime


@pytest.fixture
def school_settings() -> Iterator[SchoolSettings]:
    yield SchoolSettings()


@pytest.fixture
def audit_chaining() -> str:
    """Where audit entries are chained (decision 0048); a test parametrizes it to change it."""
    return "inline"


@pytest.fixture
async def service(
    tmp_path: Path,
    database_url: str,
    amqp_url: str,
    school_settings: SchoolSettings,
    audit_chaining: str,
) -> AsyncIterator[Service]:
    """The school-41 instance (4 schools of Henan) on the test database and broker."""
    config = federation_copy(tmp_path / "federation")
    settings = ServiceSettings(
        env="test",
        instance=instance_name(config, "school-41"),
        federation_config=config,
        database_url=database_url,
        amqp_url=amqp_url,
        retry_delays_ms=(100, 200, 400),
        relay_poll_interval=0.2,
        audit_chaining=audit_chaining,
    )
    await asyncio.to_thread(migrate_to_head, "school", database_url)
    app = build_app(settings, school_settings)
    app.dependency_overrides[today] = lambda: TODAY
    runtime: ServiceRuntime = app.state.runtime
    await runtime.start()
    try:
        await runtime.broker.wait_ready(30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://school", auth=UnitAuth(f"school:{PRIMARY.code}")
        ) as client:
            yield Service(client, app)
    finally:
        await runtime.stop()
