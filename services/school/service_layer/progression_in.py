"""The receiving school's side of a progression (升学): it admits a cohort of graduates of
one graduating school and learns each student's outcome — N2013 art. 14 ("转学或升学的，转入
学校…启动学籍转接手续"), LS 1(二), LS 3(二).

One request names the cohort: a list of student numbers / resident ID numbers, or every
graduate of the graduating school in a year. The school checks what it can (a known graduating
school of the stage before its own), keeps the request and asks national in the same unit of
work (``progression.requested``); national judges each student, runs the deciding parties'
steps and answers ``progression.updated`` (outcomes, each refusal with its rule and article)
and, on completion, ``progression.completed``: the students join this roster, enrolled in the
first grade of the stage.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import arrivals, departures
from services.school.adapters import progression_repository as repo
from services.school.domain.students import StudentStatus, Violation, normalise_id_number
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.submission import school_unit
from shared.clock import CHINA
from shared.contracts.progression import (
    ProgressionCompleted,
    ProgressionRequested,
    ProgressionUpdated,
)
from shared.federation.config import NATIONAL, Federation, School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import (
    InvalidResidentId,
    normalise,
    validate_resident_id,
    validate_student_number,
)
from shared.runtime.errors import DomainError, NotFound

log = logging.getLogger(__name__)

# The stage each stage's graduates go on to (LS 1(二)); the article of the refusal.
NEXT_STAGE = {"primary": "junior", "junior": "senior", "nine_year": "senior"}
STAGE_ARTICLE = "LS 1(二); LS 3(二)"


@dataclass(frozen=True)
class ProgressionRequest:
    from_school: str
    graduation_year: int | None
    students: Sequence[str]
    yi_track_selected: Sequence[str] = ()


async def request_progression(
    uow: UnitOfWork,
    federation: Federation,
    school: School,
    request: ProgressionRequest,
    *,
    requested_by: str,
    today: date,
    now: datetime,
) -> uuid.UUID:
    """Check, keep and send the progression to national; its id."""
    from_school = _from_school(federation, school, request.from_school)
    numbers, id_numbers = _split(request.students, today)
    progression_id = uuid.uuid4()
    named = [*numbers, *id_numbers]
    await repo.add(
        uow.session,
        {
            "progression_id": str(progression_id),
            "school_code": school.code,
            "from_school": from_school.code,
            "graduation_year": request.graduation_year,
            "named_count": len(named),
            "status": "requested",
            "requested_by": requested_by,
            "requested_at": now,
        },
        [{"progression_id": str(progression_id), "named": n, "outcome": "pending"} for n in named],
    )
    message = ProgressionRequested(
        progression_id=progression_id,
        from_school=from_school.code,
        to_school=school.code,
        graduation_year=request.graduation_year,
        student_numbers=tuple(numbers),
        id_numbers=tuple(id_numbers),
        requested_on=today,
        yi_track_selected=tuple(_numbers(request.yi_track_selected, today)),
    )
    emit = uow.emitter(school_unit(school), correlation_id=progression_id)
    await emit(message, target=NATIONAL)
    log.info("progression %s into %s requested (%d named)", progression_id, school.code, len(named))
    return progression_id


def _from_school(federation: Federation, school: School, code: str) -> School:
    if code == school.code:
        raise DomainError("a school does not progress into itself", rule="same_school")
    found = federation.school(code)
    if found is None:
        raise DomainError(f"school {code} is not known to the registry", rule="unknown_school")
    if NEXT_STAGE.get(found.stage) != school.stage:
        raise DomainError(
            f"graduates of a {found.stage.replace('_', '-')} school do not progress to a "
            f"{school.stage.replace('_', '-')} school",
            rule="progression_wrong_stage",
            article=STAGE_ARTICLE,
        )
    return found


def _split(values: Sequence[str], today: date) -> tuple[list[str], list[str]]:
    """Student numbers (G / L + 18) and resident ID numbers (18), each checked, in order,
    once each."""
    numbers: list[str] = []
    id_numbers: list[str] = []
    violations: list[Violation] = []
    for index, value in enumerate(values):
        text = normalise(value)
        try:
            if len(text) == 18:
                id_numbers.append(validate_resident_id(text, today=today).number)
            else:
                numbers.append(validate_student_number(text, today=today).number)
        except InvalidResidentId as error:
            violations.append(Violation(f"students.{index}", error.rule, error.message))
    if violations:
        raise InvalidInput(violations)
    return list(dict.fromkeys(numbers)), list(dict.fromkeys(id_numbers))


def _numbers(values: Sequence[str], today: date) -> list[str]:
    numbers, _ = _split([v for v in values if len(normalise(v)) != 18], today)
    return numbers


# ------------------------------------------------------------------- national's answers


async def apply_updated(
    session: AsyncSession, school_code: str, updated: ProgressionUpdated, now: datetime
) -> None:
    """National's view of the progression and its students (refusals with rule and article)."""
    pid = str(updated.progression_id)
    row = await _own(session, school_code, pid)
    known = {item.named for item in await repo.items(session, pid)}
    rows = [
        {
            "progression_id": pid,
            "named": i.student_number,
            "outcome": i.outcome,
            "rule": i.rule,
            "reason": i.reason,
            "article": i.article,
        }
        for i in updated.items
    ]
    new = [r for r in rows if r["named"] not in known]
    if new:
        await repo.add_items(session, new)
    await repo.set_outcomes(session, [r for r in rows if r["named"] in known])
    values: dict[str, Any] = {
        "status": updated.state,
        "rule": updated.rule,
        "status_reason": updated.reason,
    }
    if updated.state != "in_progress":
        values["settled_at"] = row.settled_at or now
    await repo.settle(session, pid, values)
    log.info("progression %s: %s (%d students)", pid, updated.state, len(rows))


async def apply_completed(
    session: AsyncSession, school_code: str, completed: ProgressionCompleted, now: datetime
) -> None:
    """The registry moved the cohort here: each student joins the roster, enrolled in the
    stage's first grade (a student who once left this school gets their entry back)."""
    if completed.to_school != school_code:
        leaving = departures.Leaving(
            school_code=school_code,
            student_numbers=[s.student_number for s in completed.students],
            kind=departures.PROGRESSION,
            subject_id=str(completed.progression_id),
            to_school=completed.to_school,
            left_on=completed.completed_at.astimezone(CHINA).date(),
        )
        left = await departures.leave(session, leaving, StudentStatus.PROGRESSED_OUT, now)
        log.info(
            "progression %s: %d graduates of %s went on to %s",
            completed.progression_id,
            left,
            school_code,
            completed.to_school,
        )
        return
    subject = str(completed.progression_id)
    noted = await arrivals.note(
        session,
        [arrivals.Arrival(school_code, subject, s.student_number) for s in completed.students],
        departures.PROGRESSION,
        now,
    )
    # a student noted before arrived already: the cohort heard again changes nothing for them
    noted_numbers = {a.student_number for a in noted}
    arriving = [s for s in completed.students if s.student_number in noted_numbers]
    numbers = [s.student_number for s in arriving]
    present = await repo.on_roster(session, school_code, numbers)
    await repo.enrol_many(
        session,
        [
            _roster_row(school_code, completed, s, now)
            for s in arriving
            if s.student_number not in present
        ],
    )
    if present:
        await repo.reenrol(session, school_code, sorted(present), completed.grade, now)
    log.info(
        "progression %s: %d students enrolled at %s",
        completed.progression_id,
        len(numbers),
        school_code,
    )


def _roster_row(
    school_code: str, completed: ProgressionCompleted, s: Any, now: datetime
) -> dict[str, Any]:
    basic = s.basic
    return {
        "school_code": school_code,
        "student_number": s.student_number,
        "registration_id": None,
        "name": basic.name,
        "gender": basic.gender,
        "birth_date": basic.birth_date,
        "id_type": basic.id_type.value,
        "id_number": normalise_id_number(basic.id_number),
        "nationality": basic.nationality,
        "ethnicity": basic.ethnicity,
        "grade": completed.grade,
        "enrolled_on": basic.enrolled_on,
        "status": StudentStatus.ENROLLED.value,
        "class_name": None,
        "created_at": now,
        "updated_at": now,
    }


async def _own(session: AsyncSession, school_code: str, progression_id: str) -> Row[Any]:
    row = await repo.get(session, progression_id)
    if row is None or row.school_code != school_code:
        raise PermanentMessageError(f"progression {progression_id} is not {school_code}'s")
    return row


async def get_progression(
    session: AsyncSession, progression_id: uuid.UUID, visible: Any
) -> tuple[Row[Any], list[Row[Any]]]:
    """The progression and its students' outcomes; 404 unless the caller sees its school."""
    row = await repo.get(session, str(progression_id))
    if row is None or not visible(row.school_code):
        raise NotFound(
            f"progression {progression_id} is not known here", rule="progression_not_found"
        )
    return row, await repo.items(session, str(progression_id))
