"""Status changes (学籍变动) a school asks for: one pipeline for every change (DOMAIN.md §5).

The school checks what it can see — the student is on its roster and still here, no other
change of theirs is waiting, the proofs the province requires for this change are attached
(``[status_change] required_proofs``) — keeps the proof documents (section 2 of the archive
points to them: 学籍信息证明材料, N2013 art. 7) and sends the change to its registry authority
(``status_change.submitted``). The authority decides (or records, where the province says
so); national checks the registry status machine and the rules of the change and answers
``status_change.decided``: an applied change moves the roster entry to the new status and
grade, a refused one names the rule and article.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository, status_repository
from services.school.domain.students import StudentStatus
from services.school.service_layer.proofs import proof_sizes
from services.school.service_layer.submission import school_unit
from shared.contracts.registration import ProofDocument
from shared.contracts.status import (
    REQUESTABLE,
    StatusChangeDecided,
    StatusChangeFacts,
    StatusChangeSubmitted,
)
from shared.contracts.transfer import ProofRef
from shared.federation.config import School
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.rules import StatusChangeRules
from shared.runtime.errors import Conflict, DomainError, NotFound

SUBMITTED, APPLIED, REJECTED = "submitted", "applied", "rejected"
RULE_PENDING = "change_pending"
RULE_PROOF_REQUIRED = "proof_required"
RULE_NOT_REQUESTABLE = "change_not_requestable"
# Changes whose proofs depend on the ground of the suspension they continue or end.
SUSPENSION_GROUND_CHANGES = frozenset({"resume", "extend_suspension"})
# Changes national makes by itself and announces (no request of the school behind them).
NATIONAL_CHANGES = frozenset({"lapse"})


async def submit_change(
    uow: UnitOfWork,
    school: School,
    student_number: str,
    facts: StatusChangeFacts,
    reason: str,
    proofs: Sequence[ProofDocument],
    rules: StatusChangeRules,
    *,
    max_proof_bytes: int,
) -> uuid.UUID:
    """Check a change of a student on the roster, keep its proofs, send it to the authority."""
    if facts.change not in REQUESTABLE:
        raise DomainError(
            f"{facts.change} is national's own change, not a school's request",
            rule=RULE_NOT_REQUESTABLE,
        )
    student = await _student_here(uow.session, school.code, student_number)
    ground: str | None = facts.ground
    if ground is None and facts.change in SUSPENSION_GROUND_CHANGES:
        ground = await status_repository.suspension_ground(uow.session, school.code, student_number)
    _require_proofs(facts.change, ground, proofs, rules)
    sizes = proof_sizes(proofs, max_proof_bytes)
    if await status_repository.has_open_change(uow.session, school.code, student_number):
        raise _pending()
    change_id = uuid.uuid4()
    try:
        await status_repository.insert_change(
            uow.session,
            _change_row(change_id, school.code, student_number, facts, reason),
            _proof_rows(change_id, proofs, sizes),
        )
    except IntegrityError:  # a concurrent request for the same student won
        raise _pending() from None
    submitted = StatusChangeSubmitted(
        change_id=change_id,
        school_code=school.code,
        student_number=student_number,
        facts=facts,
        grade=student.grade,
        reason=reason,
        proofs=tuple(ProofRef(index=i, kind=p.kind) for i, p in enumerate(proofs)),
    )
    emit = uow.emitter(school_unit(school))
    await emit(submitted, target=school.authority_unit)
    return change_id


async def _student_here(session: AsyncSession, school_code: str, student_number: str) -> Any:
    student = await repository.get_student(session, school_code, student_number)
    if student is None:
        raise NotFound(f"student {student_number} is not on the roster of school {school_code}")
    if student.status == StudentStatus.TRANSFERRED_OUT:
        raise Conflict(
            "the student transferred to another school: the record here is read-only",
            rule="student_transferred_out",
        )
    return student


def _require_proofs(
    change: str, ground: str | None, proofs: Sequence[ProofDocument], rules: StatusChangeRules
) -> None:
    attached = {p.kind for p in proofs}
    for requirement in rules.proofs_for(change, ground):
        missing = [k for k in requirement.kinds if k not in attached]
        if missing:
            on = f" on the ground {ground}" if requirement.ground else ""
            raise DomainError(
                f"{change}{on} needs the proof(s) {', '.join(missing)} "
                f"({requirement.article}; the proofs go into the archive, N2013 art. 7)",
                rule=RULE_PROOF_REQUIRED,
                article=requirement.article,
            )


def _pending() -> Conflict:
    return Conflict(
        "a status change of this student is already waiting for a decision", rule=RULE_PENDING
    )


def _change_row(
    change_id: uuid.UUID,
    school_code: str,
    student_number: str,
    facts: StatusChangeFacts,
    reason: str,
) -> dict[str, Any]:
    return {
        "change_id": str(change_id),
        "school_code": school_code,
        "student_number": student_number,
        "change": facts.change,
        "status": SUBMITTED,
        "effective_on": facts.effective_on,
        "facts": facts.model_dump(mode="json"),
        "reason": reason,
        "submitted_at": datetime.now(UTC),
    }


def _proof_rows(
    change_id: uuid.UUID, proofs: Sequence[ProofDocument], sizes: Sequence[int]
) -> list[dict[str, Any]]:
    return [
        {
            "change_id": str(change_id),
            "position": index,
            "kind": proof.kind,
            "filename": proof.filename,
            "size": size,
            "content": binascii.a2b_base64(proof.content_base64),
        }
        for index, (proof, size) in enumerate(zip(proofs, sizes, strict=True))
    ]


async def get_change(
    session: AsyncSession, change_id: uuid.UUID, hosts: Callable[[str], bool]
) -> Row[Any]:
    row = await status_repository.get_change(session, str(change_id))
    if row is None or not hosts(row.school_code):
        raise NotFound(f"status change {change_id} is not known here", rule="change_not_found")
    return row


async def apply_decision(session: AsyncSession, decided: StatusChangeDecided) -> None:
    """Record the decision; an applied change moves the roster entry to its new status and
    grade. A decided change stays decided: a redelivered or late decision changes nothing."""
    change = await status_repository.get_change(session, str(decided.change_id))
    if change is None:
        if decided.facts.change not in NATIONAL_CHANGES:
            raise PermanentMessageError(f"status change {decided.change_id} is not known here")
        await _record_national_change(session, decided)
    elif change.school_code != decided.school_code:
        raise PermanentMessageError(f"status change {decided.change_id} is not this school's")
    elif change.status != SUBMITTED:
        return
    now = datetime.now(UTC)
    applied = decided.outcome == "applied"
    closed = await status_repository.close_change(
        session, str(decided.change_id), _closing(decided, now, applied)
    )
    if closed and applied and decided.to_status and decided.to_grade:
        await status_repository.set_roster_status(
            session,
            decided.school_code,
            decided.student_number,
            {
                "status": decided.to_status,
                "grade": decided.to_grade,
                # kept while suspended: the school's list of suspensions over (HA art. 13(三))
                "suspended_until": (
                    decided.suspended_until if decided.to_status == "suspended" else None
                ),
                "updated_at": now,
            },
        )


async def _record_national_change(session: AsyncSession, decided: StatusChangeDecided) -> None:
    """A change national made by itself (a lapsed suspension) joins the school's list."""
    row = _change_row(
        decided.change_id,
        decided.school_code,
        decided.student_number,
        decided.facts,
        "made by national: " + (decided.article or decided.facts.change),
    )
    await status_repository.insert_change(session, row, [])


def _closing(decided: StatusChangeDecided, now: datetime, applied: bool) -> dict[str, Any]:
    outcome = decided.model_dump(
        mode="json",
        include={
            "from_status",
            "to_status",
            "from_grade",
            "to_grade",
            "suspended_until",
            "report_due_on",
            "reported_late",
            "stopped_transfer_id",
        },
    )
    return {
        "status": APPLIED if applied else REJECTED,
        "outcome": outcome,
        "decision_reason": decided.reason,
        "rule": decided.rule,
        "article": decided.article,
        "decided_by": decided.decided_by,
        "decided_at": now,
    }
