"""Registration of one student (学籍建立) and the outcomes that come back (N2013 arts. 4-7).

The school checks the form, stores a ``pending`` registration with basic info only, and files
the batch with its province and its authority (:mod:`.submission`). The authority or the
national registry answers with ``RegistrationBatchDecided``; :func:`apply_decision` moves
registrations set-based and puts issued students on the roster.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.registration_timing import check_under_age
from services.school.adapters import repository
from services.school.domain.students import check_student, normalise_id_number
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.merger import refuse_if_closed
from services.school.service_layer.proofs import proof_sizes
from services.school.service_layer.submission import (
    AuthorityOf,
    Submission,
    prepare_batches,
    store_batches,
)
from shared.contracts.registration import ProofDocument, RegistrationBatchDecided
from shared.contracts.students import BasicInfo, ExtendedInfo
from shared.db.keys import time_ordered_uuid
from shared.federation.config import School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import InvalidStudentNumber, normalise, validate_student_number
from shared.rules import RegistrationRules
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)

DUPLICATE_RULE = "duplicate_registration"
NEW_REGISTRATION_GRADE_RULE = "new_registration_grade"
UNDER_AGE_PROOF_RULE = "under_age_proof_required"


def new_registration_refusal(grade: int, rules: RegistrationRules) -> DomainError | None:
    """A new registration in a grade the province does not open to never-registered children
    (LS 1(二): 小学一年级新生 … 新建学籍; 初中、高中阶段的学籍只能采用升学招生的形式调档): later
    grades come by progression or transfer, which continue the old registration."""
    allowed = rules.new_registration_grades
    if not allowed or grade in allowed:
        return None
    article = rules.articles.get("new_registration_grades", "N2013 art. 6")
    grades = ", ".join(str(g) for g in allowed)
    return DomainError(
        f"a new registration is made in grade {grades} only ({article}); a student in grade "
        f"{grade} continues their registration by progression or transfer",
        rule=NEW_REGISTRATION_GRADE_RULE,
        article=article,
    )


def under_age_refusal(
    basic: BasicInfo, rules: RegistrationRules, proofs: Sequence[ProofDocument] = ()
) -> DomainError | None:
    """An under-age first-grader's registration without the proof its province names (HA art.
    4: 未经主管教育行政部门批准，小学不得招收不足6周岁的儿童入学): only the authority's approval
    admits the child, so the registration must carry it (``[registration] under_age_proof``).
    With the proof the registration goes on, flagged ``under_age`` for the authority."""
    kind = rules.under_age_proof
    if kind is None or any(p.kind == kind for p in proofs):
        return None
    found = check_under_age(basic, rules)
    if not found:
        return None
    article = rules.articles.get("under_age_proof", rules.articles.get("first_grade_age", ""))
    return DomainError(
        f"{found[0].message}: the registration must carry the proof {kind} "
        "(only the single registration form takes proofs; a file row cannot)",
        rule=UNDER_AGE_PROOF_RULE,
        article=article or None,
    )


def normalised(basic: BasicInfo) -> BasicInfo:
    """The same basic info with its document number in its one stored spelling."""
    return basic.model_copy(update={"id_number": normalise_id_number(basic.id_number)})


def checked(basic: BasicInfo, school: School, today: date) -> BasicInfo:
    """Normalise and check ``basic`` for ``school``; raise :class:`InvalidInput` if it fails."""
    basic = normalised(basic)
    violations = check_student(basic, school.stage, today)
    if violations:
        raise InvalidInput(violations)
    return basic


async def register_student(
    uow: UnitOfWork,
    school: School,
    basic: BasicInfo,
    extended: ExtendedInfo,
    *,
    today: date,
    batch_size: int = 1,
    authority_of: AuthorityOf | None = None,
    rules: RegistrationRules | None = None,
    proofs: Sequence[ProofDocument] = (),
    max_proof_bytes: int | None = None,
) -> uuid.UUID:
    """Check, store ``pending`` and file one registration with its proofs (they travel to the
    authority's task, as a key-field change's do); return its id."""
    await refuse_if_closed(uow.session, school.code)
    rules = rules or RegistrationRules()
    refused = new_registration_refusal(basic.grade, rules)
    if refused is not None:
        raise refused
    basic = checked(basic, school, today)
    refused = under_age_refusal(basic, rules, proofs)
    if refused is not None:
        raise refused
    if proofs and max_proof_bytes is not None:
        proof_sizes(proofs, max_proof_bytes)
    if basic.id_number and await repository.taken_id_numbers(
        uow.session, school.code, [basic.id_number]
    ):
        raise _duplicate()
    submission = Submission(time_ordered_uuid(), basic, extended, proofs=tuple(proofs))
    batches = prepare_batches(
        school,
        [submission],
        batch_size=batch_size,
        now=datetime.now(UTC),
        authority_of=authority_of,
    )
    try:
        await store_batches(uow.session, batches)
    except repository.DuplicateOpenRegistration:
        raise _duplicate() from None
    return submission.registration_id


def _duplicate() -> Conflict:
    return Conflict(
        "this document number already has a pending or approved registration at this school",
        rule=DUPLICATE_RULE,
    )


async def get_registration(
    session: AsyncSession, registration_id: uuid.UUID, hosts: Callable[[str], bool]
) -> Row[Any]:
    """A registration of a school hosted here (404 otherwise)."""
    row = await repository.get_registration(session, str(registration_id))
    if row is None or not hosts(row.school_code):
        raise NotFound(f"registration {registration_id} is not known here")
    return row


async def apply_decision(session: AsyncSession, decided: RegistrationBatchDecided) -> None:
    """Apply each outcome, one statement per outcome kind; idempotent and order-tolerant.

    Transitions only happen from the statuses the domain allows (a late ``held_for_review``
    never downgrades ``approved``; a final outcome stays final), so a duplicate or reordered
    message changes nothing. Issued registrations join the roster unless already on it.
    """
    _check_outcomes(decided)
    now, by, code = datetime.now(UTC), decided.decided_by, decided.school_code
    held = [str(o.registration_id) for o in decided.outcomes if o.outcome == "held_for_review"]
    rejected = [
        (str(o.registration_id), o.reason, o.rule)
        for o in decided.outcomes
        if o.outcome == "rejected"
    ]
    issued = [
        (str(o.registration_id), normalise(o.student_number or ""))
        for o in decided.outcomes
        if o.outcome == "issued"
    ]
    await repository.mark_issued(session, code, issued, by, now)
    await repository.mark_rejected(session, code, rejected, by, now)
    await repository.mark_held(session, code, held, by, now)
    await repository.enrol_approved(session, code, [rid for rid, _ in issued], now)
    log.info(
        "batch %s decided by %s: %d issued, %d rejected, %d held",
        decided.batch_id,
        by,
        len(issued),
        len(rejected),
        len(held),
    )


def _check_outcomes(decided: RegistrationBatchDecided) -> None:
    """An issued outcome must carry a valid student number, or the message can never apply."""
    for outcome in decided.outcomes:
        if outcome.outcome != "issued":
            continue
        try:
            validate_student_number(outcome.student_number or "")
        except InvalidStudentNumber as error:
            raise PermanentMessageError(
                f"registration {outcome.registration_id} issued with an unusable student "
                f"number ({error.rule})"
            ) from None
