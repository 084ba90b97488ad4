"""The graduating list at the school, on a real database (SQLite, PostgreSQL): checked
against the roster line by line, one message to the authority, and the decision applied to
the roster set-based; graduates cannot be put on a list again."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from services.school.adapters.orm import student
from services.school.service_layer import graduation
from services.school.service_layer.errors import InvalidInput
from shared.contracts.graduation import (
    GraduationBatchDecided,
    GraduationItem,
    GraduationRefusal,
)
from shared.db.engine import SessionFactory
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import DomainError
from tests.services.school import conftest
from tests.services.school.conftest import PRIMARY, staged

TODAY = date(2027, 6, 20)
NOW = datetime(2027, 6, 20, 2, 0, tzinfo=UTC)
_serial = iter(range(1000, 9999))


async def on_roster(sessions: SessionFactory, grade: int, status: str = "enrolled") -> str:
    number = f"G41010220150101{next(_serial):04d}"
    async with sessions() as session, session.begin():
        await session.execute(
            insert(student).values(
                school_code=PRIMARY.code,
                student_number=number,
                name="学生",
                gender="male",
                birth_date=date(2015, 1, 1),
                id_type="none",
                nationality="CHN",
                grade=grade,
                enrolled_on=date(2021, 9, 1),
                status=status,
                class_name="六年级1班",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return number


def line(number: str, outcome: str = "graduated") -> GraduationItem:
    return GraduationItem(student_number=number, outcome=outcome)  # type: ignore[arg-type]


async def submit(
    sessions: SessionFactory,
    *items: GraduationItem,
    year: int = 2027,
    today: date = TODAY,
    late_reason: str | None = None,
) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        result = await graduation.submit_list(
            uow, PRIMARY, year, items, late_reason, today=today, now=NOW
        )
        await uow.commit()
        return result


async def deliver(sessions: SessionFactory, decided: GraduationBatchDecided) -> None:
    await conftest.deliver(sessions, decided)


async def roster(sessions: SessionFactory, number: str) -> tuple[str, int, str | None]:
    async with sessions() as session:
        row = (
            await session.execute(
                select(student.c.status, student.c.grade, student.c.class_name).where(
                    student.c.student_number == number
                )
            )
        ).one()
    return row.status, row.grade, row.class_name


async def test_one_list_one_message_to_the_authority(sessions: SessionFactory) -> None:
    a, b = await on_roster(sessions, 6), await on_roster(sessions, 6)
    batch_id = await submit(sessions, line(a), line(b, "completed"))

    [message] = await staged(sessions)
    assert message.type == "graduation.batch_submitted"
    assert str(message.target) == "county:410102"
    assert message.payload["batch_id"] == str(batch_id)
    assert [i["outcome"] for i in message.payload["items"]] == ["graduated", "completed"]


async def test_every_refused_line_is_named_and_nothing_is_sent(sessions: SessionFactory) -> None:
    young = await on_roster(sessions, 4)
    gone = await on_roster(sessions, 6, "transferred_out")
    done = await on_roster(sessions, 6, "graduated")
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, line(young), line(gone), line(done), line("G" + "4" * 18))
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("items.0.student_number", "not_graduating_grade"),
        ("items.1.student_number", "student_transferred_out"),
        ("items.2.student_number", "graduation_is_final"),
        ("items.3.student_number", "not_on_roster"),
    ]
    assert await staged(sessions) == []


async def test_dates_late_lists_need_a_reason(sessions: SessionFactory) -> None:
    number = await on_roster(sessions, 6)
    with pytest.raises(DomainError) as late:
        await submit(sessions, line(number), year=2027, today=date(2027, 8, 2))
    assert late.value.rule == "graduation_deadline_passed"
    with pytest.raises(DomainError) as early:
        await submit(sessions, line(number), year=2028)
    assert early.value.rule == "graduation_year_not_open"
    await submit(sessions, line(number), today=date(2027, 8, 2), late_reason="resit on July 28")
    [message] = await staged(sessions)
    assert message.payload["late_reason"] == "resit on July 28"


async def test_a_student_on_a_pending_list_cannot_be_listed_twice(sessions: SessionFactory) -> None:
    number = await on_roster(sessions, 6)
    await submit(sessions, line(number))
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, line(number, "completed"))
    assert refused.value.violations[0].rule == "graduation_pending"


async def test_national_decision_updates_the_roster_and_graduates_are_final(
    sessions: SessionFactory,
) -> None:
    a, b, c = [await on_roster(sessions, 6) for _ in range(3)]
    batch_id = await submit(sessions, line(a), line(b, "completed"), line(c))
    decided = GraduationBatchDecided(
        batch_id=batch_id,
        school_code=PRIMARY.code,
        graduation_year=2027,
        outcome="approved",
        decided_by="national:CN",
        applied=(line(a), line(b, "completed")),
        refused=(
            GraduationRefusal(student_number=c, rule="transfer_in_progress", reason="in transfer"),
        ),
    )
    await deliver(sessions, decided)
    await deliver(sessions, decided)  # a second copy changes nothing

    assert await roster(sessions, a) == ("graduated", 6, None)
    assert await roster(sessions, b) == ("completed", 6, None)
    assert (await roster(sessions, c))[0] == "enrolled"
    async with sessions() as session:
        batch, items = await graduation.read_list(session, PRIMARY.code, batch_id)
    assert (batch.status, batch.applied_count) == ("approved", 2)
    assert {i.student_number: (i.status, i.rule) for i in items} == {
        a: ("applied", None),
        b: ("applied", None),
        c: ("refused", "transfer_in_progress"),
    }
    # rollback refused: a graduate cannot be put on another list
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, line(a, "incomplete"))
    assert refused.value.violations[0].rule == "graduation_is_final"
    # the refused student may be listed again
    await submit(sessions, line(c))


async def test_a_rejected_list_leaves_the_roster_and_frees_the_students(
    sessions: SessionFactory,
) -> None:
    number = await on_roster(sessions, 6)
    batch_id = await submit(sessions, line(number))
    await deliver(
        sessions,
        GraduationBatchDecided(
            batch_id=batch_id,
            school_code=PRIMARY.code,
            graduation_year=2027,
            outcome="rejected",
            decided_by="county:410102",
            reason="名单不全",
            rule="authority_rejected",
        ),
    )
    assert (await roster(sessions, number))[0] == "enrolled"
    await submit(sessions, line(number))


async def test_a_decision_on_an_unknown_list_is_dead_lettered(sessions: SessionFactory) -> None:
    with pytest.raises(PermanentMessageError):
        await deliver(
            sessions,
            GraduationBatchDecided(
                batch_id=uuid.uuid4(),
                school_code=PRIMARY.code,
                graduation_year=2027,
                outcome="approved",
                decided_by="national:CN",
            ),
        )
