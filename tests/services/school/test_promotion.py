"""The school applies national's yearly promotion to its roster (SQLite, PostgreSQL): enrolled
students below the graduating grade move up one, nobody else; national's counts are checked;
and through the real broker and consumer, a redelivered promotion is applied once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from sqlalchemy import insert, select

from services.school.adapters.orm import student
from shared.contracts.status import (
    GradeCount,
    RegistryPromoted,
    promotion_message_id,
    promotion_run_id,
)
from shared.db.engine import SessionFactory
from shared.federation.config import NATIONAL
from shared.messaging.envelope import build_envelope
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from shared.messaging.tables import inbox
from shared.messaging.testing import signed_as_source
from shared.messaging.topology import EVENTS_EXCHANGE
from tests.services.school.conftest import Service
from tests.services.school.transfer_support import (
    JINSHUI_PRIMARY,
    ZHONGYUAN_PRIMARY,
    School,
    school_ref,
    school_service,
)

CREATED = datetime(2025, 9, 1, tzinfo=UTC)


def roster_row(code: str, serial: int, grade: int, status: str = "enrolled") -> dict[str, Any]:
    return {
        "school_code": code,
        "student_number": f"G41010220150101{serial:04d}",
        "name": "赵敏",
        "gender": "female",
        "birth_date": date(2015, 1, 1),
        "id_type": "resident_id",
        "id_number": f"41010220150101{serial:04d}",
        "nationality": "CN",
        "grade": grade,
        "enrolled_on": date(2021, 9, 1),
        "status": status,
        "class_name": f"{grade}年级1班",
        "created_at": CREATED,
        "updated_at": CREATED,
    }


async def seed(sessions: SessionFactory, rows: list[dict[str, Any]]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(student), rows)


async def roster(sessions: SessionFactory, code: str = ZHONGYUAN_PRIMARY) -> list[int]:
    async with sessions() as session:
        found = await session.scalars(
            select(student.c.grade).where(student.c.school_code == code).order_by(student.c.id)
        )
        return list(found)


def promoted(
    code: str = ZHONGYUAN_PRIMARY, *counts: tuple[int, int], school_year: int = 2026
) -> RegistryPromoted:
    return RegistryPromoted(
        school_code=code,
        school_year=school_year,
        as_of=date(school_year, 8, 10),
        graduating_grade=6,
        promoted=tuple(GradeCount(grade=g, count=n) for g, n in counts),
    )


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> AsyncIterator[School]:
    async with school_service(tmp_path / "federation", database_url) as service:
        yield service


async def test_enrolled_students_below_the_graduating_grade_move_up_one(
    school: School, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = school.runtime.sessions
    grades = [1, 2, 3, 4, 5, 5, 6]
    others = ["suspended", "dropout", "transferred_out", "graduated", "deceased", "abroad"]
    await seed(sessions, [roster_row(ZHONGYUAN_PRIMARY, i, g) for i, g in enumerate(grades)])
    await seed(
        sessions, [roster_row(ZHONGYUAN_PRIMARY, 50 + i, 3, s) for i, s in enumerate(others)]
    )
    await seed(sessions, [roster_row(JINSHUI_PRIMARY, 90, 2)])

    with caplog.at_level(logging.WARNING):
        await school.deliver(promoted(ZHONGYUAN_PRIMARY, (1, 1), (2, 1), (3, 1), (4, 1), (5, 2)))

    assert await roster(sessions) == [2, 3, 4, 5, 6, 6, 6] + [3] * len(others)
    assert await roster(sessions, JINSHUI_PRIMARY) == [2]  # another school's roster
    assert caplog.records == []  # the roster agrees with the registry
    async with sessions() as session:
        classes = set(await session.scalars(select(student.c.class_name)))
    assert "1年级1班" in classes  # the class for the new year is the school's to set


async def test_a_difference_with_nationals_counts_is_logged_without_personal_data(
    school: School, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = school.runtime.sessions
    await seed(sessions, [roster_row(ZHONGYUAN_PRIMARY, 1, 2), roster_row(ZHONGYUAN_PRIMARY, 2, 2)])

    with caplog.at_level(logging.WARNING):
        await school.deliver(promoted(ZHONGYUAN_PRIMARY, (2, 3)))

    assert await roster(sessions) == [3, 3]
    [record] = caplog.records
    assert record.getMessage() == (
        "promotion 2026 of school 4101020001: national moved 3 students up from grade 2, "
        "the roster 2"
    )


async def test_a_promotion_addressed_to_another_school_is_dead_lettered(school: School) -> None:
    with pytest.raises(PermanentMessageError):
        await school.deliver(promoted(JINSHUI_PRIMARY), code=ZHONGYUAN_PRIMARY)


async def test_two_copies_in_one_delivery_batch_promote_once(school: School) -> None:
    sessions = school.runtime.sessions
    await seed(sessions, [roster_row(ZHONGYUAN_PRIMARY, 1, 1)])
    found = school.runtime.handlers.many("registry.promoted", 1)
    assert found is not None
    payload = promoted(ZHONGYUAN_PRIMARY, (1, 1))
    envelope = build_envelope(payload, source=NATIONAL, target=school_ref(ZHONGYUAN_PRIMARY))
    async with sessions() as session, session.begin():
        contexts = [HandlerContext(session, envelope), HandlerContext(session, envelope)]
        await found(contexts, [payload, payload])

    assert await roster(sessions) == [2]


# -- through the broker: a redelivery is applied once --------------------------------------


async def eventually(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_redelivered_promotion_is_applied_once(service: Service) -> None:
    """National's relay publishes its message, then publishes it again (as after a crash
    before the broker's confirm was recorded): the consumer's inbox drops the second copy."""
    runtime = service.runtime
    sessions = runtime.sessions
    await seed(sessions, [roster_row(ZHONGYUAN_PRIMARY, i, g) for i, g in enumerate([1, 3, 6])])
    payload = promoted(ZHONGYUAN_PRIMARY, (1, 1), (3, 1))
    envelope = build_envelope(
        payload,
        source=NATIONAL,
        target=school_ref(ZHONGYUAN_PRIMARY),
        correlation_id=promotion_run_id(2026),
    ).model_copy(update={"message_id": promotion_message_id(2026, ZHONGYUAN_PRIMARY)})

    async def publish_as_national() -> None:  # signed afresh each time, as the relay does
        body, headers = signed_as_source(runtime.federation, envelope)
        connection = await aio_pika.connect(runtime.settings.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            message = aio_pika.Message(body, message_id=str(envelope.message_id), headers=headers)
            await exchange.publish(message, envelope.routing_key, mandatory=True)

    await publish_as_national()

    async def applied() -> bool:
        return runtime.consumer.applied >= 1 and await roster(sessions) == [2, 4, 6]

    await eventually(applied)

    duplicates = runtime.consumer.duplicates
    await publish_as_national()

    async def dropped() -> bool:
        return runtime.consumer.duplicates > duplicates

    await eventually(dropped)
    assert await roster(sessions) == [2, 4, 6]
    async with sessions() as session:
        seen = await session.scalars(select(inbox.c.message_id))
        assert list(seen).count(str(envelope.message_id)) == 1
