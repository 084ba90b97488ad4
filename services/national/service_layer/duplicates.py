"""Use case: resolving a duplicate admission (重复招生处理, LS 2(三)) — rules in
:mod:`..domain.duplicates`, messages in :mod:`shared.contracts.duplicates`.

National runs it: it refuses or opens the resolution and asks both authorities; their
decisions come back one by one; the last approval moves the registry entry to the real
school (re-checked in that transaction: a transfer that claimed the student meanwhile makes
it ``refused``) and tells both schools and both provinces. National keeps the proofs' kinds
and positions only; the files stay at the real school (decision 0016).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import DuplicateResolution, RegistryEntry
from services.national.domain.duplicates import (
    OPEN,
    REFUSED,
    RESOLVED,
    Held,
    Refusal,
    after_decision,
    request_refusal,
    required_units,
)
from services.national.service_layer.change_log import (
    DUPLICATE_RESOLVED,
    entries_in,
    log_changes,
)
from services.national.service_layer.ports import DECIDED_BY, province_of
from shared.contracts.decider import Decider
from shared.contracts.duplicates import (
    DuplicateApprovalDecided,
    DuplicateApprovalRequested,
    DuplicateResolutionDecided,
    DuplicateResolutionRequested,
)
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import ProofRef
from shared.federation.config import Federation, Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.emit import Emit
from shared.messaging.errors import PermanentMessageError

log = logging.getLogger(__name__)


async def request_resolution(
    session: AsyncSession,
    emit: Emit,
    federation: Federation,
    request: DuplicateResolutionRequested,
    correlation_id: uuid.UUID,
    now: datetime,
) -> None:
    """Refuse the request (to the real school) or open it and ask both authorities."""
    if await session.get(DuplicateResolution, str(request.resolution_id)) is not None:
        log.info("duplicate resolution %s requested again: answered before", request.resolution_id)
        return
    real = federation.school(request.real_school)
    if real is None:
        raise PermanentMessageError(f"school {request.real_school} is not in the federation")
    entry = await _entry(session, request.student_number)
    other = federation.school(entry.school_code) if entry is not None else None
    refusal = request_refusal(
        request.real_school,
        _held(entry),
        await _open_for(session, request.student_number),
        request.other_school,
    )
    if refusal is None and other is None:
        refusal = Refusal("unknown_school", "the registration's school is not in the federation")
    required = required_units(str(real.authority_unit), str(other.authority_unit)) if other else {}
    row = DuplicateResolution(
        resolution_id=str(request.resolution_id),
        student_number=request.student_number,
        real_school=request.real_school,
        other_school=other.code if other else None,
        registration_id=str(request.registration_id),
        reason=request.reason,
        proof_refs=[p.model_dump(mode="json") for p in request.proofs],
        required=required,
        decisions={},
        state=OPEN if refusal is None else REFUSED,
        rule=refusal.rule if refusal else None,
        closing_reason=refusal.reason if refusal else None,
        correlation_id=str(correlation_id),
        created_at=now,
        closed_at=now if refusal else None,
    )
    session.add(row)
    await session.flush()
    if refusal is not None:
        await _answer(emit, row, None)
        log.info("duplicate resolution %s refused: %s", row.resolution_id, refusal.rule)
        return
    for unit, roles in required.items():
        await emit(
            DuplicateApprovalRequested(
                resolution_id=request.resolution_id,
                student_number=request.student_number,
                real_school=row.real_school,
                other_school=row.other_school or "",
                roles=tuple(roles),
                reason=request.reason,
                proofs=request.proofs,
            ),
            target=UnitRef.parse(unit),
        )


async def record_decision(
    session: AsyncSession,
    emit: Emit,
    decided: DuplicateApprovalDecided,
    source: UnitRef,
    now: datetime,
) -> None:
    """One authority's decision; the last approval resolves, any rejection ends it."""
    row = await session.get(DuplicateResolution, str(decided.resolution_id))
    if row is None:
        raise PermanentMessageError(f"no duplicate resolution {decided.resolution_id}")
    if str(source) not in row.required:
        raise NotAParty(f"{source} has no say in duplicate resolution {decided.resolution_id}")
    if row.state != OPEN or str(source) in row.decisions:
        log.info("duplicate resolution %s: late decision of %s ignored", row.resolution_id, source)
        return
    row.decisions = {
        **row.decisions,
        str(source): decided.decision,
        f"{source}.by": decided.decided_by,
        f"{source}.reason": decided.reason,
    }
    verdict = after_decision(
        row.required, {u: row.decisions[u] for u in row.required if u in row.decisions}
    )
    if verdict == OPEN:
        return
    decider = Decider(account=decided.decided_by, unit=decided.decided_unit)
    if verdict == RESOLVED:
        await _resolve(session, emit, row, now, decider)
        return
    _close(row, verdict, "authority_rejected", decided.reason, now)
    await _answer(emit, row, None, decider)


async def _resolve(
    session: AsyncSession, emit: Emit, row: DuplicateResolution, now: datetime, decider: Decider
) -> None:
    """Move the registration to the real school; the log names the officer whose approval
    completed the resolution."""
    entry = await _entry(session, row.student_number)
    refusal = request_refusal(row.real_school, _held(entry), open_elsewhere=False)
    if entry is None or refusal is not None or entry.school_code != row.other_school:
        why = refusal or Refusal("registration_moved", "the registration moved meanwhile")
        _close(row, REFUSED, why.rule, why.reason, now)
        await _answer(emit, row, None, decider)
        return
    await session.execute(
        update(RegistryEntry)
        .where(RegistryEntry.entry_id == entry.entry_id)
        .values(
            school_code=row.real_school,
            province_code=province_of(row.real_school),
            updated_at=now,
        )
    )
    await log_changes(
        session,
        kind=DUPLICATE_RESOLVED,
        subject_id=row.resolution_id,
        decider=decider,
        at=now,
        where=entries_in([entry.entry_id]),
    )
    _close(row, RESOLVED, None, None, now)
    basic = BasicInfo(
        name=entry.name,
        gender=entry.gender,
        birth_date=entry.birth_date,
        id_type=entry.id_type,
        id_number=entry.id_number,
        nationality=entry.nationality,
        ethnicity=entry.ethnicity,
        grade=entry.grade,
        enrolled_on=entry.enrolled_on,
    )
    await _answer(emit, row, basic, decider)
    log.info("duplicate resolution %s resolved", row.resolution_id)


def _close(
    row: DuplicateResolution, state: str, rule: str | None, reason: str | None, now: datetime
) -> None:
    row.state, row.rule, row.closing_reason, row.closed_at = state, rule, reason, now


async def _answer(
    emit: Emit, row: DuplicateResolution, basic: BasicInfo | None, decider: Decider | None = None
) -> None:
    """The real school always; when resolved, the other school and both provinces too."""
    decided = DuplicateResolutionDecided(
        resolution_id=uuid.UUID(row.resolution_id),
        student_number=row.student_number,
        real_school=row.real_school,
        other_school=row.other_school,
        registration_id=uuid.UUID(row.registration_id),
        outcome=row.state,
        rule=row.rule,
        reason=row.closing_reason,
        decided_by=DECIDED_BY,
        decider=decider,
        basic=basic,
    )
    targets = [UnitRef(tier=Tier.SCHOOL, code=row.real_school)]
    if row.state == RESOLVED and row.other_school:
        targets.append(UnitRef(tier=Tier.SCHOOL, code=row.other_school))
        provinces = {province_of(row.real_school), province_of(row.other_school)}
        targets += [UnitRef(tier=Tier.PROVINCE, code=p) for p in sorted(provinces)]
    for target in targets:
        await emit(decided, target=target)


async def _entry(session: AsyncSession, student_number: str) -> RegistryEntry | None:
    return (
        await session.execute(
            select(RegistryEntry).where(RegistryEntry.student_number == student_number)
        )
    ).scalar_one_or_none()


def _held(entry: RegistryEntry | None) -> Held | None:
    if entry is None:
        return None
    return Held(entry.school_code, entry.status, entry.active_transfer_id is not None)


async def _open_for(session: AsyncSession, student_number: str) -> bool:
    found = await session.execute(
        select(DuplicateResolution.resolution_id).where(
            DuplicateResolution.student_number == student_number,
            DuplicateResolution.state == OPEN,
        )
    )
    return found.first() is not None


def proof_refs(row: DuplicateResolution) -> tuple[ProofRef, ...]:
    return tuple(ProofRef.model_validate(p) for p in row.proof_refs)
