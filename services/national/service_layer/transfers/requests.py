"""Use case: a receiving school asks to transfer a student in (``transfer.requested``).

National checks the registry-level rules of both provinces (see
:mod:`services.national.domain.transfer_rules` for which side applies which) and either
refuses — ``transfer.refused`` to the receiving school with the rule and a reason that names
the province and the article — or claims the student and opens the first step.

One active transfer per student: the claim is one conditional UPDATE of the registry entry
(``... WHERE active_transfer_id IS NULL``). Of two requests for one student racing on
PostgreSQL, the second UPDATE waits for the first transaction's row lock and then matches no
row; on SQLite the writers are serialised. Either way exactly one proceeds.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from services.national.adapters.orm import RegistryEntry, TransferRecord
from services.national.domain.transfer import Step, Transfer
from services.national.domain.transfer_rules import (
    PlannedStep,
    Refusal,
    Registration,
    Sides,
    TransferRequest,
    in_progress_refusal,
    refusal,
    window_exception,
)
from services.national.service_layer.key_fields import find_entry
from services.national.service_layer.merger import CLOSED_RULE, closed
from services.national.service_layer.transfers import metrics, notices
from services.national.service_layer.transfers.context import SagaContext
from shared.contracts.transfer import TransferRequested
from shared.federation.config import School

log = logging.getLogger(__name__)


async def request_transfer(
    ctx: SagaContext, request: TransferRequested, correlation_id: uuid.UUID
) -> Transfer | None:
    """Refuse or start the transfer; ``None`` if this transfer id was seen before (the
    answer was given then)."""
    if await ctx.transfers.exists(request.transfer_id):
        log.info("transfer %s requested again: already answered", request.transfer_id)
        return None
    transfer_id = str(request.transfer_id)  # the saga's ids are text, as stored
    to_school = ctx.rulebook.school(request.to_school)
    entry = await find_entry(ctx.registry, request.student_number)
    sides = ctx.rulebook.sides(request.from_school, to_school)
    into_track = to_school.in_yi_track(request.class_name)
    found = refusal(_request_of(request, into_track), _registration_of(entry), sides)
    if found is None and await closed(ctx.session, to_school.code) is not None:
        found = Refusal(CLOSED_RULE, "the receiving school was merged or closed (N2013 art. 9)")
    saga = Transfer(
        transfer_id,
        entry.student_number if entry else request.student_number,
        request.from_school,
        request.to_school,
    )
    if found is None and entry is not None:
        if await ctx.transfers.claim(entry.student_number, transfer_id):
            return await _start(ctx, request, saga, entry, sides, correlation_id)
        found = in_progress_refusal()
    assert found is not None
    saga.refuse(found.rule, found.reason, ctx.now)
    record = _record(ctx, request, saga, entry, correlation_id)
    await ctx.transfers.add(record, [])
    await ctx.outbox.send(notices.refused(record), to=saga.receiving_school_unit, record=record)
    metrics.ended(ctx.session, saga.state.value)
    log.info("transfer %s refused: %s", transfer_id, found.rule)
    return saga


async def _start(
    ctx: SagaContext,
    request: TransferRequested,
    saga: Transfer,
    entry: RegistryEntry,
    sides: Sides,
    correlation_id: uuid.UUID,
) -> Transfer:
    from_school = ctx.rulebook.school(request.from_school)
    to_school = ctx.rulebook.school(request.to_school)
    exception = window_exception(_request_of(request), sides)
    planned = ctx.rulebook.plan(sides, from_school, to_school, exception=exception is not None)
    saga.steps = [_step(seq, p) for seq, p in enumerate(planned, start=1)]
    opened = saga.start(ctx.today, ctx.rulebook.deadline_of)
    record = _record(ctx, request, saga, entry, correlation_id)
    if exception is not None:
        record.window_exception = dataclasses.asdict(exception)
        log.info("transfer %s asks a window exception (%s)", saga.transfer_id, exception.article)
    await ctx.transfers.add(record, [_step_row(saga.transfer_id, step) for step in saga.steps])
    message = notices.step_opened(record, opened, entry)
    await ctx.outbox.send(message, to=opened.party_unit, record=record)
    log.info(
        "transfer %s started: %s",
        saga.transfer_id,
        " → ".join(f"{s.role}({s.party_unit})" for s in saga.steps),
    )
    return saga


def _request_of(request: TransferRequested, into_yi_track: bool = False) -> TransferRequest:
    return TransferRequest(
        from_school=request.from_school,
        to_school=request.to_school,
        grade=request.grade,
        requested_on=request.requested_on,
        proof_kinds=frozenset(p.kind for p in request.proofs),
        into_yi_track=into_yi_track,
        exception_reason=request.window_exception_reason,
    )


def _registration_of(entry: RegistryEntry | None) -> Registration | None:
    if entry is None:
        return None
    return Registration(
        entry.school_code, entry.status, entry.grade, entry.active_transfer_id, entry.yi_track
    )


def _step(seq: int, planned: PlannedStep) -> Step:
    return Step(str(uuid.uuid4()), seq, planned.role, planned.party_unit, planned.superior_unit)


def _record(
    ctx: SagaContext,
    request: TransferRequested,
    saga: Transfer,
    entry: RegistryEntry | None,
    correlation_id: uuid.UUID,
) -> TransferRecord:
    from_school: School | None = ctx.rulebook.federation.school(request.from_school)
    return TransferRecord(
        transfer_id=saga.transfer_id,
        student_number=saga.student_number,
        entry_id=entry.entry_id if entry else None,
        from_school=request.from_school,
        to_school=request.to_school,
        from_province=from_school.province if from_school else request.from_school[:2],
        to_province=ctx.rulebook.school(request.to_school).province,
        grade=request.grade,
        class_name=request.class_name,
        reason=request.reason,
        requested_on=request.requested_on,
        proof_refs=[p.model_dump(mode="json") for p in request.proofs],
        state=saga.state.value,
        closing_rule=saga.closing_rule,
        closing_reason=saga.closing_reason,
        correlation_id=str(correlation_id),
        created_at=ctx.now,
        closed_at=saga.ended_at,
    )


def _step_row(transfer_id: str, step: Step) -> dict[str, Any]:
    return {
        "step_id": step.step_id,
        "transfer_id": transfer_id,
        "seq": step.seq,
        "role": step.role,
        "party_unit": step.party_unit,
        "superior_unit": step.superior_unit,
        "state": step.state.value,
        "opened_on": step.opened_on,
        "due_on": step.due_on,
        "due_approximate": step.due_approximate,
        "reminded_at": None,
        "overdue_notified_at": None,
        "decided_at": None,
        "decided_by": None,
        "decided_unit": None,
        "intervention": False,
        "reason": None,
        "rule": None,
    }
