"""The receiving school's side of a transfer (转入): it starts the transfer and learns how it
ended — N2013 art. 14, HA art. 11(二), LS 2(一), ZJ art. 13.

The school checks what only it can check under its province's rules — the class has a seat
(LS 2(一)6(1); transfers in flight hold seats too) and a transfer from another province
carries the proofs the province requires (HA art. 11(二)) — keeps the application and its
proof documents (the deciding parties fetch them from here), and asks national to run the
transfer (``transfer.requested``) in the same unit of work. National's answers move the
pending transfer in: refused, rejected, cancelled, stopped, or completed — then the student
joins the roster in the grade and class placed.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import arrivals as arrivals_log
from services.school.adapters import departures
from services.school.adapters import transfer_repository as transfers
from services.school.domain.students import (
    StudentStatus,
    Violation,
    check_grade,
    normalise_id_number,
)
from services.school.domain.transfers import (
    CLASS_SIZE_ARTICLE,
    TransferInStatus,
    class_is_full,
    closed_status,
    explain_proof,
    identity_from_number,
    missing_proofs,
)
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.merger import closed_refusal
from services.school.service_layer.proofs import proof_sizes
from services.school.service_layer.submission import school_unit
from shared.clock import CHINA
from shared.contracts.registration import ProofDocument
from shared.contracts.transfer import (
    ProofRef,
    TransferCancelRequested,
    TransferClosed,
    TransferCompleted,
    TransferRefused,
    TransferRequested,
)
from shared.db.keys import time_ordered_uuid
from shared.federation.config import NATIONAL, Federation, School, Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.uow import UnitOfWork
from shared.resident_id import InvalidResidentId, validate_student_number
from shared.rules import ProvinceRules
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferInRequest:
    """What the receiving school asks for (the guardian's application, 转学申请)."""

    student_number: str
    from_school: str
    grade: int
    class_name: str | None
    reason: str
    proofs: Sequence[ProofDocument]
    # Outside the receiving window: why an exception is asked (decision 0035).
    window_exception_reason: str | None = None


async def request_transfer(
    uow: UnitOfWork,
    federation: Federation,
    rules: ProvinceRules,
    school: School,
    request: TransferInRequest,
    *,
    today: date,
    now: datetime,
    max_proof_bytes: int,
) -> uuid.UUID:
    """Check, store (pending, with its proofs) and send the transfer to national; its id.
    The request itself is checked first; then one read gives the school's closure, a pending
    transfer of the student and their roster status here."""
    number = _student_number(request.student_number)
    from_school = _from_school(federation, school, request.from_school)
    _check_grade(request.grade, school)
    sizes = proof_sizes(request.proofs, max_proof_bytes)
    _require_proofs(rules, school, from_school, request.proofs)
    checks = await transfers.request_checks(uow.session, school.code, number)
    if checks.closure is not None:
        raise closed_refusal(school.code, checks.closure)
    await _check_class_size(uow.session, rules, school, request)
    _refuse_duplicates(checks)
    transfer_id = time_ordered_uuid()
    row = _transfer_row(transfer_id, school, number, request, today, now)
    proof_rows = _proof_rows(transfer_id, request.proofs, sizes)
    try:
        await transfers.insert_transfer_in(uow.session, row, proof_rows)
    except transfers.DuplicatePendingTransfer:
        raise _pending_conflict() from None
    emit = uow.emitter(school_unit(school), correlation_id=transfer_id)
    await emit(_requested(transfer_id, school, number, request, today), target=NATIONAL)
    log.info("transfer %s into %s requested", transfer_id, school.code)
    return transfer_id


def _student_number(value: str) -> str:
    try:
        return validate_student_number(value).number
    except InvalidResidentId as error:
        violation = Violation("student_number", f"student_number.{error.rule}", error.message)
        raise InvalidInput([violation]) from None


def _from_school(federation: Federation, school: School, code: str) -> School:
    if code == school.code:
        raise DomainError("a school cannot receive a transfer from itself", rule="same_school")
    found = federation.school(code)
    if found is None:
        raise DomainError(f"school {code} is not known to the registry", rule="unknown_school")
    return found


def _check_grade(grade: int, school: School) -> None:
    violations = check_grade(grade, school.stage)
    if violations:
        raise InvalidInput(violations)


def _require_proofs(
    rules: ProvinceRules, school: School, from_school: School, proofs: Sequence[ProofDocument]
) -> None:
    """A transfer from another province carries the proofs the receiving province requires."""
    if from_school.province == school.province:
        return
    required = rules.transfer.cross_province_required_proofs
    missing = missing_proofs(required, (p.kind for p in proofs))
    if missing:
        raise DomainError(
            f"a transfer from another province into {_province_name(rules)} needs proof of "
            f"kind {'; '.join(explain_proof(kind) for kind in missing)}",
            rule="missing_required_proof",
        )


async def _check_class_size(
    session: AsyncSession, rules: ProvinceRules, school: School, request: TransferInRequest
) -> None:
    """No transfer into a class at its size cap (LS 2(一)6(1)), counting transfers in flight."""
    cap = rules.transfer.class_size_cap
    if cap is None or request.class_name is None:
        return
    taken = await transfers.seats_taken(session, school.code, request.grade, request.class_name)
    if class_is_full(taken, cap):
        raise DomainError(
            f"class {request.class_name} (grade {request.grade}) already has {taken} students "
            f"or transfers in flight; {_province_name(rules)} caps a class at {cap} "
            f"({CLASS_SIZE_ARTICLE}: a class at the standard size takes no transfers)",
            rule="class_size_cap",
        )


def _province_name(rules: ProvinceRules) -> str:
    return f"{rules.name} ({rules.code})" if rules.name else f"province {rules.code}"


def _refuse_duplicates(checks: transfers.RequestChecks) -> None:
    if checks.pending:
        raise _pending_conflict()
    if checks.status == StudentStatus.ENROLLED:
        raise Conflict("the student is already enrolled at this school", rule="already_enrolled")


def _pending_conflict() -> Conflict:
    return Conflict(
        "a transfer of this student into this school is already pending", rule="transfer_pending"
    )


def _transfer_row(
    transfer_id: uuid.UUID,
    school: School,
    number: str,
    request: TransferInRequest,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    return {
        "transfer_id": str(transfer_id),
        "school_code": school.code,
        "student_number": number,
        "from_school": request.from_school,
        "grade": request.grade,
        "class_name": request.class_name,
        "reason": request.reason,
        "status": TransferInStatus.PENDING.value,
        "requested_on": today,
        "requested_at": now,
    }


def _proof_rows(
    transfer_id: uuid.UUID, proofs: Sequence[ProofDocument], sizes: Sequence[int]
) -> list[dict[str, Any]]:
    return [
        {
            "transfer_id": str(transfer_id),
            "position": index,
            "kind": proof.kind,
            "filename": proof.filename,
            "size": size,
            "content": base64.b64decode(proof.content_base64),
        }
        for index, (proof, size) in enumerate(zip(proofs, sizes, strict=True))
    ]


def _requested(
    transfer_id: uuid.UUID, school: School, number: str, request: TransferInRequest, today: date
) -> TransferRequested:
    return TransferRequested(
        transfer_id=transfer_id,
        student_number=number,
        from_school=request.from_school,
        to_school=school.code,
        grade=request.grade,
        class_name=request.class_name,
        reason=request.reason,
        requested_on=today,
        proofs=tuple(
            ProofRef(index=index, kind=proof.kind) for index, proof in enumerate(request.proofs)
        ),
        window_exception_reason=request.window_exception_reason,
    )


# --- reading and cancelling --------------------------------------------------------------


async def get_transfer_in(
    session: AsyncSession, transfer_id: uuid.UUID, hosts: Callable[[str], bool]
) -> Row[Any]:
    """A transfer in of a school hosted here (404 otherwise)."""
    row = await transfers.get_transfer_in(session, str(transfer_id))
    if row is None or not hosts(row.school_code):
        raise NotFound(f"transfer {transfer_id} is not known here", rule="transfer_not_found")
    return row


async def cancel(
    uow: UnitOfWork,
    transfer_id: uuid.UUID,
    reason: str,
    hosts: Callable[[str], bool],
    *,
    now: datetime,
) -> None:
    """The receiving school withdraws a pending transfer: national ends it and answers
    ``transfer.closed`` (cancelled); until then the transfer stays pending."""
    row = await get_transfer_in(uow.session, transfer_id, hosts)
    if row.status != TransferInStatus.PENDING:
        raise Conflict(f"the transfer is already {row.status}", rule="transfer_not_pending")
    if not await transfers.request_cancel(uow.session, row.transfer_id, now, reason):
        raise Conflict("cancellation was already requested", rule="cancel_already_requested")
    emit = uow.emitter(UnitRef(tier=Tier.SCHOOL, code=row.school_code), correlation_id=transfer_id)
    await emit(TransferCancelRequested(transfer_id=transfer_id, reason=reason), target=NATIONAL)


# --- national's answers ------------------------------------------------------------------


async def apply_refused(
    session: AsyncSession, school_code: str, refused: TransferRefused, now: datetime
) -> None:
    """National would not run the transfer: which rule and why."""
    row = await _own_transfer(session, school_code, str(refused.transfer_id))
    if row is None:
        raise PermanentMessageError(f"transfer {refused.transfer_id} is not known here")
    await transfers.settle_transfer_in(
        session,
        row.transfer_id,
        {
            "status": TransferInStatus.REFUSED,
            "rule": refused.rule,
            "status_reason": refused.reason,
            "settled_at": now,
        },
    )


async def apply_closed(
    session: AsyncSession, school_code: str, closed: TransferClosed, now: datetime
) -> bool:
    """The transfer ended without moving the student; False if it is not this school's."""
    row = await _own_transfer(session, school_code, str(closed.transfer_id))
    if row is None:
        return False
    await transfers.settle_transfer_in(
        session,
        row.transfer_id,
        {
            "status": closed_status(closed.outcome),
            "rule": closed.rule,
            "status_reason": closed.reason,
            "settled_at": now,
        },
    )
    return True


async def complete_many(
    session: AsyncSession, arrivals: Sequence[tuple[str, TransferCompleted]], now: datetime
) -> None:
    """The registry moved these students here (each a receiving school's code and the
    completion): each transfer in is completed and its student joins the roster, enrolled in
    the grade and class placed. Four statements whatever the run's length (the arrivals
    noted, the transfers in read, those pending completed, the students enrolled); the same
    outcome as the completions applied one after the other. A transfer the school's arrivals
    already hold is not applied again: a completion re-sent after the student left again
    does not put them back on the roster."""
    if not arrivals:
        return

    def arrived(school_code: str, completed: TransferCompleted) -> arrivals_log.Arrival:
        return arrivals_log.Arrival(
            school_code, str(completed.transfer_id), completed.student_number
        )

    noted = await arrivals_log.note(
        session, [arrived(*a) for a in arrivals], departures.TRANSFER, now
    )
    fresh = []
    for school_code, completed in arrivals:
        if arrived(school_code, completed) in noted:
            fresh.append((school_code, completed))
        else:  # applied already: the student may have left since, and stays gone
            log.info("transfer %s already arrived at %s", completed.transfer_id, school_code)
    found = await transfers.get_transfers_in(session, [str(c.transfer_id) for _, c in fresh])
    settled: list[str] = []
    rows: list[dict[str, Any]] = []
    for school_code, completed in fresh:
        row = found.get(str(completed.transfer_id))
        if row is None or row.school_code != school_code:
            row = None
            log.warning(
                "transfer %s completed into %s without a local request",
                completed.transfer_id,
                school_code,
            )
        else:
            settled.append(row.transfer_id)
        class_name = completed.class_name or (row.class_name if row is not None else None)
        rows.append(_roster_row(school_code, completed, class_name, now))
    await transfers.complete_transfers_in(session, settled, now)
    await transfers.enrol_transferred_many(session, rows)


def _roster_row(
    school_code: str, completed: TransferCompleted, class_name: str | None, now: datetime
) -> dict[str, Any]:
    """The roster entry: the registry's basic info when national sends it, else what the
    student summary and the student number say."""
    summary, basic = completed.student, completed.basic
    if basic is not None:
        id_type, id_number = basic.id_type.value, normalise_id_number(basic.id_number)
    else:
        id_type, id_number = identity_from_number(completed.student_number)
    return {
        "school_code": school_code,
        "student_number": completed.student_number,
        "registration_id": None,
        "name": summary.name,
        "gender": summary.gender,
        "birth_date": summary.birth_date,
        "id_type": id_type,
        "id_number": id_number,
        "nationality": basic.nationality if basic else "CN",
        "ethnicity": basic.ethnicity if basic else None,
        "grade": completed.grade,
        "enrolled_on": basic.enrolled_on if basic else _china_date(completed.completed_at),
        "status": StudentStatus.ENROLLED.value,
        "class_name": class_name,
        "created_at": now,
        "updated_at": now,
    }


def _china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


async def _own_transfer(session: AsyncSession, school_code: str, transfer_id: str) -> Any:
    row = await transfers.get_transfer_in(session, transfer_id)
    return row if row is not None and row.school_code == school_code else None
