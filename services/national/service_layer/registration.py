"""Use case: an authority approved a registration batch; dedup it nationally and issue numbers.

N2013 arts. 4-6, N2025 art. 5. One ``registration.batch_decided`` with every outcome goes to
the school and one to its province; held applicants wait in the review queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.national.adapters.repository import NationalRepository, Replay
from services.national.domain.dedup import Applicant, Hold, Reject
from services.national.domain.documents import normalise_number
from services.national.domain.identity import Person, Placement
from services.national.domain.numbers import SerialKey, TemporarySerials
from services.national.domain.registration import Issued, Verdict, decide_batch
from services.national.service_layer.change_log import (
    REGISTERED,
    decider_or_unit,
    log_changes,
    registrations_in,
)
from services.national.service_layer.merger import CLOSED_RULE, closed
from services.national.service_layer.ports import (
    DECIDED_BY,
    load_view,
    province_of,
    tell_school_and_province,
)
from shared.contracts.filing import FilingSubmitted
from shared.contracts.registration import (
    RegistrationBatchApproved,
    RegistrationBatchDecided,
    RegistrationItem,
    RegistrationOutcome,
)
from shared.db.keys import time_ordered_uuid
from shared.federation.config import Tier, UnitRef
from shared.messaging.emit import Emit

ENROLLED = "enrolled"


class MalformedBatch(Exception):
    """The batch can never be decided as sent (its items are not told apart)."""


@dataclass(frozen=True)
class Submission:
    """One approved registration: the applicant and the rest of its basic info."""

    registration_id: str
    applicant: Applicant
    nationality: str
    ethnicity: str | None
    grade: int
    enrolled_on: date


@dataclass(frozen=True)
class BatchContext:
    """Where a batch comes from and when it is decided."""

    correlation_id: uuid.UUID
    authority: str
    division: str
    now: datetime
    yi_track: bool = False  # the batch's school is a Yi-track school (LS part 6)
    # "MM-DD": a Yi-track school's starting-grade roster is filed with its city by then (LS 6)
    roster_filing_by: str | None = None

    @property
    def today(self) -> date:
        return self.now.date()


async def decide_approved_batch(
    repo: NationalRepository, emit: Emit, batch: RegistrationBatchApproved, context: BatchContext
) -> RegistrationBatchDecided:
    """Screen, number and record the batch; tell the school and its province."""
    placement = Placement(batch.school_code, province_of(batch.school_code))
    submissions = [submission_of(item, placement) for item in batch.items]
    ids = [s.registration_id for s in submissions]
    if len(set(ids)) != len(ids):
        raise MalformedBatch("a registration id appears more than once in the batch")
    replays = await repo.replays(ids)
    fresh = [s for s in submissions if s.registration_id not in replays]
    closure = await closed(repo.session, batch.school_code)
    if closure is not None:  # N2013 art. 9: a merged or closed school registers no one
        reason = f"school {batch.school_code} was {closure.kind} on {closure.closed_on}"
        outcomes = {
            s.registration_id: rejected_outcome(s.registration_id, CLOSED_RULE, reason)
            for s in fresh
        }
    else:
        outcomes = await _decide(repo, batch, fresh, context)
    decider = decider_or_unit(batch.approver, batch.authority)
    issued = [s.registration_id for s in fresh if outcomes[s.registration_id].outcome == "issued"]
    if issued:
        await log_changes(
            repo.session,
            kind=REGISTERED,
            subject_id=str(batch.batch_id),
            decider=decider,
            at=context.now,
            where=registrations_in(issued),
        )
    outcomes.update(_replayed(replays))
    decided = RegistrationBatchDecided(
        batch_id=batch.batch_id,
        school_code=batch.school_code,
        decided_by=DECIDED_BY,
        decider=decider,
        outcomes=tuple(outcomes[s.registration_id] for s in submissions),
    )
    await tell_school_and_province(emit, decided, batch.school_code)
    await file_yi_track_roster(emit, batch, submissions, outcomes, context)
    return decided


STARTING_GRADES = (1, 7)  # 起始年级（小学一年级、初中一年级) (LS 6)
ROSTER_NAMESPACE = uuid.UUID("0b8e6c4d-3a2f-4e1d-9c7b-6a5f4e3d2c1b")


async def file_yi_track_roster(
    emit: Emit,
    batch: RegistrationBatchApproved,
    submissions: list[Submission],
    outcomes: dict[str, RegistrationOutcome],
    context: BatchContext,
) -> None:
    """义务教育阶段起始年级学生的学籍…于每年9月30日前报州教育局备案 (LS 6): the students a
    Yi-track school registered in a starting grade go to its city in one filing per batch and
    grade, due on the province's day (decision 0034)."""
    if not context.yi_track or context.roster_filing_by is None:
        return
    by_grade: dict[int, list[str]] = {}
    earliest: dict[int, date] = {}
    for submission in submissions:
        outcome = outcomes[submission.registration_id]
        if submission.grade in STARTING_GRADES and outcome.student_number is not None:
            if outcome.outcome != "issued":
                continue
            by_grade.setdefault(submission.grade, []).append(outcome.student_number)
            first = earliest.get(submission.grade, submission.enrolled_on)
            earliest[submission.grade] = min(first, submission.enrolled_on)
    month, day = (int(part) for part in context.roster_filing_by.split("-"))
    city = UnitRef(tier=Tier.CITY, code=batch.school_code[:4])
    for grade, numbers in sorted(by_grade.items()):
        enrolled = earliest[grade]
        due = date(enrolled.year, month, day)
        await emit(
            FilingSubmitted(
                filing_id=uuid.uuid5(ROSTER_NAMESPACE, f"{batch.batch_id}:{grade}"),
                kind="yi_track_roster",
                school_code=batch.school_code,
                subject_id=batch.batch_id,
                student_numbers=tuple(numbers),
                grade=grade,
                effective_on=enrolled,
                due_on=due if due >= enrolled else date(enrolled.year + 1, month, day),
                article="LS 6",
            ),
            target=city,
        )


def submission_of(item: RegistrationItem, placement: Placement) -> Submission:
    basic = item.basic
    person = Person(
        name=basic.name,
        gender=basic.gender,
        birth_date=basic.birth_date,
        id_type=basic.id_type.value,
        id_number=normalise_number(basic.id_type.value, basic.id_number),
    )
    return Submission(
        registration_id=str(item.registration_id),
        applicant=Applicant(str(time_ordered_uuid()), person, placement),
        nationality=basic.nationality,
        ethnicity=basic.ethnicity,
        grade=basic.grade,
        enrolled_on=basic.enrolled_on,
    )


def entry_row(
    submission: Submission, issued: Issued, now: datetime, *, yi_track: bool = False
) -> dict[str, Any]:
    """The registry row of an issued applicant (status ``enrolled``); ``yi_track``: registered
    at a Yi-track school (LS part 6)."""
    person = submission.applicant.person
    return {
        "entry_id": submission.applicant.entry_id,
        "student_number": issued.number.student_number,
        "registration_id": submission.registration_id,
        "name": person.name,
        "gender": person.gender,
        "birth_date": person.birth_date,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "nationality": submission.nationality,
        "ethnicity": submission.ethnicity,
        "identity_key": person.identity,
        "school_code": submission.applicant.placement.school_code,
        "province_code": submission.applicant.placement.province_code,
        "grade": submission.grade,
        "status": ENROLLED,
        "enrolled_on": submission.enrolled_on,
        "registered_at": now,
        "updated_at": now,
        "yi_track": yi_track,
    }


def serial_row(submission: Submission, issued: Issued, division: str) -> dict[str, Any] | None:
    if issued.number.serial is None:
        return None
    return {
        "division_code": division,
        "birth_date": submission.applicant.person.birth_date,
        "serial": issued.number.serial,
        "entry_id": submission.applicant.entry_id,
    }


def issued_outcome(registration_id: str, student_number: str) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=uuid.UUID(registration_id), outcome="issued", student_number=student_number
    )


def rejected_outcome(registration_id: str, rule: str, reason: str) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=uuid.UUID(registration_id), outcome="rejected", rule=rule, reason=reason
    )


def held_outcome(
    registration_id: str, rule: str, reason: str, review_id: str
) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=uuid.UUID(registration_id),
        outcome="held_for_review",
        rule=rule,
        reason=f"{reason}; held for national review {review_id}",
    )


async def _decide(
    repo: NationalRepository,
    batch: RegistrationBatchApproved,
    fresh: Sequence[Submission],
    context: BatchContext,
) -> dict[str, RegistrationOutcome]:
    if not fresh:
        return {}
    persons = [s.applicant.person for s in fresh]
    view = await load_view(repo, persons)
    keys: set[SerialKey] = {(context.division, p.birth_date) for p in persons}
    serials = TemporarySerials(context.division, await repo.highest_serials(keys))
    applicants = [s.applicant for s in fresh]
    verdicts = decide_batch(applicants, view, serials, today=context.today)
    return await _record(repo, batch, list(zip(fresh, verdicts, strict=True)), context)


async def _record(
    repo: NationalRepository,
    batch: RegistrationBatchApproved,
    decided: list[tuple[Submission, Verdict]],
    context: BatchContext,
) -> dict[str, RegistrationOutcome]:
    """Insert the issued entries, their serials and the held reviews; return the outcomes."""
    issued = [(s, v) for s, v in decided if isinstance(v, Issued)]
    await repo.add_entries(
        [entry_row(s, v, context.now, yi_track=context.yi_track) for s, v in issued]
    )
    serials = [serial_row(s, v, context.division) for s, v in issued]
    await repo.add_serials([row for row in serials if row is not None])
    outcomes: dict[str, RegistrationOutcome] = {}
    reviews: list[dict[str, Any]] = []
    for submission, verdict in decided:
        rid = submission.registration_id
        if isinstance(verdict, Issued):
            outcomes[rid] = issued_outcome(rid, verdict.number.student_number)
        elif isinstance(verdict, Reject):
            outcomes[rid] = rejected_outcome(rid, verdict.rule, verdict.reason)
        else:
            review = review_row(batch, submission, verdict, context)
            reviews.append(review)
            outcomes[rid] = held_outcome(rid, verdict.rule, verdict.reason, review["review_id"])
    await repo.add_reviews(reviews)
    return outcomes


def review_row(
    batch: RegistrationBatchApproved, submission: Submission, hold: Hold, context: BatchContext
) -> dict[str, Any]:
    """A review-queue row: the applicant's basic info and the entry it resembles."""
    person = submission.applicant.person
    placement = submission.applicant.placement
    return {
        "review_id": str(uuid.uuid4()),
        "batch_id": str(batch.batch_id),
        "registration_id": submission.registration_id,
        "correlation_id": str(context.correlation_id),
        "authority": context.authority,
        "school_code": placement.school_code,
        "province_code": placement.province_code,
        "rule": hold.rule,
        "reason": hold.reason,
        "matched_entry_id": hold.matched.entry_id,
        "name": person.name,
        "gender": person.gender,
        "birth_date": person.birth_date,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "nationality": submission.nationality,
        "ethnicity": submission.ethnicity,
        "grade": submission.grade,
        "enrolled_on": submission.enrolled_on,
        "status": "open",
        "created_at": context.now,
    }


def _replayed(replays: dict[str, Replay]) -> dict[str, RegistrationOutcome]:
    """A re-sent approval gets the answer given the first time."""
    outcomes: dict[str, RegistrationOutcome] = {}
    for rid, replay in replays.items():
        if replay.student_number is not None:
            outcomes[rid] = issued_outcome(rid, replay.student_number)
        elif replay.review is not None:
            review = replay.review
            outcomes[rid] = held_outcome(rid, review.rule, review.reason, review.review_id)
    return outcomes
