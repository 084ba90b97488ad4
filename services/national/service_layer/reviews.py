"""Use case: the review queue of applicants held by a suspect dedup rule.

National operators and province officers list the open reviews (the applicant's basic info
next to the matched entry's student number, school and province) and decide each one once:
``issue`` (the exact rules are checked again — they are nobody's to overrule) or ``reject``.
Each decision sends a ``registration.batch_decided`` with that single outcome to the school
and its province, in the correlation of the original batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.national.adapters.orm import DedupReview, RegistryEntry
from services.national.adapters.repository import OPEN, NationalRepository, person_of
from services.national.domain.dedup import Applicant, Reject
from services.national.domain.identity import Placement
from services.national.domain.numbers import TemporarySerials
from services.national.domain.registration import Issued, decide_reviewed
from services.national.service_layer.ports import (
    DECIDED_BY,
    load_view,
    tell_school_and_province,
)
from services.national.service_layer.registration import (
    Submission,
    entry_row,
    issued_outcome,
    rejected_outcome,
    serial_row,
)
from shared.contracts.registration import RegistrationBatchDecided, RegistrationOutcome
from shared.db.keys import time_ordered_uuid
from shared.federation.config import NATIONAL
from shared.messaging.emit import Emit
from shared.messaging.uow import UnitOfWork
from shared.runtime.errors import Conflict, NotFound

Decision = Literal["issue", "reject"]
RULE_ALREADY_DECIDED = "review_already_decided"

ReviewWithMatch = tuple[DedupReview, RegistryEntry]


@dataclass(frozen=True)
class ReviewDecision:
    decision: Decision
    reason: str
    division_of: Callable[[str], str]  # a school's division code for L numbers
    now: datetime
    in_yi_track: Callable[[str], bool] = lambda school_code: False  # LS part 6


async def list_reviews(
    repo: NationalRepository, *, province: str | None, status: str, after: int | None, limit: int
) -> list[ReviewWithMatch]:
    """A page of reviews, oldest first."""
    return await repo.reviews(province=province, status=status, after=after, limit=limit)


async def get_review(repo: NationalRepository, review_id: uuid.UUID) -> ReviewWithMatch:
    found = await repo.review(str(review_id))
    if found is None:
        raise NotFound(f"no review {review_id}")
    return found


async def decide_review(
    uow: UnitOfWork, review_id: uuid.UUID, decision: ReviewDecision
) -> ReviewWithMatch:
    """Decide an open review (409 if it was decided already) and tell school and province."""
    repo = NationalRepository(uow.session)
    review, _ = await get_review(repo, review_id)
    if review.status != OPEN:
        raise Conflict(f"review {review_id} was already decided", rule=RULE_ALREADY_DECIDED)
    outcome, closing = await _outcome(repo, review, decision)
    if not await repo.close_review(review.review_id, closing):
        raise Conflict(f"review {review_id} was already decided", rule=RULE_ALREADY_DECIDED)
    await _tell(
        uow.emitter(NATIONAL, correlation_id=uuid.UUID(review.correlation_id)), review, outcome
    )
    return await get_review(repo, review_id)


async def _outcome(
    repo: NationalRepository, review: DedupReview, decision: ReviewDecision
) -> tuple[RegistrationOutcome, dict[str, Any]]:
    closing: dict[str, Any] = {"decided_at": decision.now, "decision_reason": decision.reason}
    if decision.decision == "reject":
        reason = f"rejected on national review: {decision.reason}"
        closing |= {"status": "rejected", "decision_rule": review.rule}
        return rejected_outcome(review.registration_id, review.rule, reason[:500]), closing
    verdict = await _issue(repo, review, decision)
    if isinstance(verdict, Reject):
        closing |= {"status": "rejected", "decision_rule": verdict.rule}
        return rejected_outcome(review.registration_id, verdict.rule, verdict.reason), closing
    number = verdict.number.student_number
    closing |= {"status": "issued", "student_number": number}
    return issued_outcome(review.registration_id, number), closing


async def _issue(
    repo: NationalRepository, review: DedupReview, decision: ReviewDecision
) -> Issued | Reject:
    """Re-check the exact rules and, if they pass, record the entry like a batch would."""
    submission = _submission(review)
    person = submission.applicant.person
    division = decision.division_of(review.school_code)
    view = await load_view(repo, [person])
    highest = await repo.highest_serials({(division, person.birth_date)})
    serials = TemporarySerials(division, highest)
    verdict = decide_reviewed(submission.applicant, view, serials, today=decision.now.date())
    if isinstance(verdict, Issued):
        yi_track = decision.in_yi_track(review.school_code)
        await repo.add_entries([entry_row(submission, verdict, decision.now, yi_track=yi_track)])
        row = serial_row(submission, verdict, division)
        await repo.add_serials([row] if row is not None else [])
    return verdict


def _submission(review: DedupReview) -> Submission:
    placement = Placement(review.school_code, review.province_code)
    return Submission(
        registration_id=review.registration_id,
        applicant=Applicant(str(time_ordered_uuid()), person_of(review), placement),
        nationality=review.nationality,
        ethnicity=review.ethnicity,
        grade=review.grade,
        enrolled_on=review.enrolled_on,
    )


async def _tell(emit: Emit, review: DedupReview, outcome: RegistrationOutcome) -> None:
    decided = RegistrationBatchDecided(
        batch_id=uuid.UUID(review.batch_id),
        school_code=review.school_code,
        decided_by=DECIDED_BY,
        outcomes=(outcome,),
    )
    await tell_school_and_province(emit, decided, review.school_code)
