"""The receiving school's progressions on a real database (SQLite, PostgreSQL): what it
refuses at once (same school, unknown school, a stage that does not follow, a bad number),
one message to national for a whole cohort, national's outcomes kept student by student, and
the cohort enrolled on the roster in the stage's first grade."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from services.school.adapters.orm import student
from services.school.service_layer import progression_in, roster
from services.school.service_layer.errors import InvalidInput
from shared.contracts.progression import (
    ItemOutcomeUpdate,
    ProgressedStudent,
    ProgressionCompleted,
    ProgressionUpdated,
)
from shared.contracts.students import BasicInfo, IdType
from shared.contracts.transfer import StudentSummary
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import DomainError
from tests.services.school.conftest import FEDERATION, PRIMARY, resident_id, school, staged

JUNIOR = school("4101020002")
TODAY = date(2026, 9, 7)
NOW = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)


async def ask(
    sessions: SessionFactory,
    *,
    from_school: str = PRIMARY.code,
    year: int | None = None,
    students: tuple[str, ...] = (),
) -> uuid.UUID:
    request = progression_in.ProgressionRequest(from_school, year, students)
    async with UnitOfWork(sessions) as uow:
        pid = await progression_in.request_progression(
            uow, FEDERATION, JUNIOR, request, requested_by="registrar", today=TODAY, now=NOW
        )
        await uow.commit()
    return pid


def cohort_moved(numbers: list[str], *, name: str, gender: str, born: date) -> ProgressionCompleted:
    """National's completion of a progression of ``numbers`` from PRIMARY to JUNIOR (grade 7)."""
    return ProgressionCompleted(
        progression_id=uuid.uuid4(),
        from_school=PRIMARY.code,
        to_school=JUNIOR.code,
        grade=7,
        completed_at=NOW,
        archive_due_on=date(2026, 10, 7),
        students=tuple(
            ProgressedStudent(
                student_number=n,
                student=StudentSummary(name=name, gender=gender, birth_date=born, grade=7),
                basic=BasicInfo(
                    name=name,
                    gender=gender,
                    birth_date=born,
                    id_type=IdType.RESIDENT_ID,
                    id_number=n[1:],
                    grade=7,
                    enrolled_on=date(2020, 9, 1),
                ),
            )
            for n in numbers
        ),
    )


async def test_a_cohort_by_year_is_one_message_to_national(sessions: SessionFactory) -> None:
    pid = await ask(sessions, year=2027)
    [message] = await staged(sessions)
    assert (message.type, str(message.target)) == ("progression.requested", "national:CN")
    assert message.payload["graduation_year"] == 2027
    assert message.payload["progression_id"] == str(pid)
    assert (message.payload["from_school"], message.payload["to_school"]) == (
        PRIMARY.code, JUNIOR.code,
    )  # fmt: skip


async def test_a_list_of_student_and_id_numbers_is_split(sessions: SessionFactory) -> None:
    rid = resident_id(date(2014, 3, 1))
    number = "G" + resident_id(date(2014, 4, 1))
    await ask(sessions, students=(number, rid.lower(), number))
    [message] = await staged(sessions)
    assert message.payload["student_numbers"] == [number]
    assert message.payload["id_numbers"] == [rid.upper()]


@pytest.mark.parametrize(
    ("from_school", "rule", "article"),
    [
        (JUNIOR.code, "same_school", None),
        ("4109990001", "unknown_school", None),
        ("4100000001", "progression_wrong_stage", "LS 1(二); LS 3(二)"),  # junior → junior
    ],
)
async def test_what_the_school_refuses_at_once(
    sessions: SessionFactory, from_school: str, rule: str, article: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        await ask(sessions, from_school=from_school, year=2027)
    assert (refused.value.rule, refused.value.article) == (rule, article)
    assert await staged(sessions) == []


async def test_a_bad_number_is_named_by_its_position(sessions: SessionFactory) -> None:
    good = "G" + resident_id(date(2014, 4, 1))
    with pytest.raises(InvalidInput) as refused:
        await ask(sessions, students=(good, "G41010220140401001X0"))
    assert [v.field for v in refused.value.violations] == ["students.1"]


async def test_national_outcomes_are_kept_student_by_student(sessions: SessionFactory) -> None:
    pid = await ask(sessions, year=2027)
    a, b = "G" + resident_id(date(2014, 4, 1)), "G" + resident_id(date(2014, 5, 1))
    updated = ProgressionUpdated(
        progression_id=pid,
        state="in_progress",
        items=(
            ItemOutcomeUpdate(student_number=a, outcome="pending"),
            ItemOutcomeUpdate(
                student_number=b,
                outcome="refused",
                rule="progression_not_graduated",
                reason="not graduated",
                article="N2013 art. 13; ZJ art. 25",
            ),
        ),
    )
    async with sessions() as session, session.begin():
        await progression_in.apply_updated(session, JUNIOR.code, updated, NOW)
    done = updated.model_copy(
        update={
            "state": "completed",
            "items": (ItemOutcomeUpdate(student_number=a, outcome="progressed"),),
        }
    )
    async with sessions() as session, session.begin():
        await progression_in.apply_updated(session, JUNIOR.code, done, NOW)
    async with sessions() as session:
        row, items = await progression_in.get_progression(session, pid, lambda code: True)
    assert (row.status, row.settled_at is not None) == ("completed", True)
    assert {i.named: (i.outcome, i.rule, i.article) for i in items} == {
        a: ("progressed", None, None),
        b: ("refused", "progression_not_graduated", "N2013 art. 13; ZJ art. 25"),
    }


async def test_the_cohort_joins_the_roster_in_the_first_grade(sessions: SessionFactory) -> None:
    numbers = ["G" + resident_id(date(2014, 4, d)) for d in (1, 2)]
    completed = cohort_moved(numbers, name="学生", gender="male", born=date(2014, 4, 1))
    async with sessions() as session, session.begin():
        await progression_in.apply_completed(session, JUNIOR.code, completed, NOW)
        await progression_in.apply_completed(session, PRIMARY.code, completed, NOW)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(student.c.school_code, student.c.grade, student.c.status).order_by(
                    student.c.student_number
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [(JUNIOR.code, 7, "enrolled")] * 2


async def test_the_graduating_school_keeps_only_its_history_list(
    sessions: SessionFactory,
) -> None:
    """Decision 0043: the cohort leaves the graduating school's live roster in one statement;
    the history list names who left, to where and when; a repeated message changes nothing."""
    numbers = ["G" + resident_id(date(2014, 5, d)) for d in (1, 2, 3)]
    async with sessions() as session, session.begin():
        await session.execute(
            student.insert(),
            [
                {
                    "school_code": PRIMARY.code,
                    "student_number": n,
                    "registration_id": None,
                    "name": f"毕业生{i}",
                    "gender": "female",
                    "birth_date": date(2014, 5, 1 + i),
                    "id_type": "resident_id",
                    "id_number": n[1:],
                    "nationality": "CHN",
                    "ethnicity": None,
                    "grade": 6,
                    "enrolled_on": date(2020, 9, 1),
                    "status": "graduated",
                    "class_name": "六年级1班",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i, n in enumerate(numbers)
            ],
        )
    gone = numbers[:2]  # the third went elsewhere: still on this roster
    completed = cohort_moved(gone, name="毕业生", gender="female", born=date(2014, 5, 1))
    for _ in range(2):
        async with sessions() as session, session.begin():
            await progression_in.apply_completed(session, PRIMARY.code, completed, NOW)
    async with sessions() as session:
        page = await roster.list_roster(session, PRIMARY.code, limit=100)
        history = await roster.departed(session, PRIMARY.code, limit=100, offset=0)
        with pytest.raises(DomainError) as refused:
            await roster.get_student(session, PRIMARY.code, gone[0])
    listed = {row.student_number for row in page.items}
    assert numbers[2] in listed and not listed & set(gone)
    mine = [r for r in history.items if r.student_number in gone]
    assert sorted((r.student_number, r.kind, r.to_school, r.left_on) for r in mine) == [
        (n, "progression", JUNIOR.code, date(2026, 9, 7)) for n in gone
    ]
    assert refused.value.rule == "student_left_school"
    assert JUNIOR.code in refused.value.detail and "毕业生" not in refused.value.detail

    # one of them came back (a transfer back in, its old entry enrolled again); the cohort's
    # completion re-sent under a new message id does not take them off the roster again
    came_back = gone[0]
    async with sessions() as session, session.begin():
        await session.execute(
            student.update()
            .where(student.c.school_code == PRIMARY.code, student.c.student_number == came_back)
            .values(status="enrolled", grade=7)
        )
        await progression_in.apply_completed(session, PRIMARY.code, completed, NOW)
    async with sessions() as session:
        back = await roster.get_student(session, PRIMARY.code, came_back)
        again = await roster.departed(session, PRIMARY.code, limit=100, offset=0)
    assert back.status == "enrolled"
    assert [r.student_number for r in again.items].count(came_back) == 1


async def test_a_cohort_heard_again_leaves_the_students_as_they_are_since(
    sessions: SessionFactory,
) -> None:
    """The cohort's completion re-sent under a new message id (``xueji-ops resend``, a restored
    national) after one student left the junior school and another was promoted: neither is
    enrolled again in grade 7, at either school."""
    numbers = ["G" + resident_id(date(2014, 6, d)) for d in (1, 2)]
    completed = cohort_moved(numbers, name="学生", gender="male", born=date(2014, 6, 1))
    async with sessions() as session, session.begin():
        await progression_in.apply_completed(session, JUNIOR.code, completed, NOW)
    left, promoted = numbers
    async with sessions() as session, session.begin():
        await session.execute(
            student.update()
            .where(student.c.student_number == left)
            .values(status="transferred_out", class_name=None)
        )
        await session.execute(
            student.update().where(student.c.student_number == promoted).values(grade=8)
        )
    for _ in range(2):
        async with sessions() as session, session.begin():
            await progression_in.apply_completed(session, JUNIOR.code, completed, NOW)
            await progression_in.apply_completed(session, PRIMARY.code, completed, NOW)
    async with sessions() as session:
        rows = await session.execute(
            select(student.c.student_number, student.c.grade, student.c.status).where(
                student.c.school_code == JUNIOR.code, student.c.student_number.in_(numbers)
            )
        )
        found = {r.student_number: (r.grade, r.status) for r in rows}
    assert found == {left: (7, "transferred_out"), promoted: (8, "enrolled")}
