"""Use case: a receiving school asks to transfer a student in (``transfer.requested``).

National checks the registry-level rules of both provinces (see
:mod:`services.national.domain.transfer_rules` for which side applies which) and either
refuses — ``transfer.refused`` to the receiving school with the rule and a reason that names
the province and the article — or claims the student and opens the first step.

One active transfer per student: the claim is one conditional UPDATE of the registry entry
(``... WHERE active_transfer_id IS NULL``). Of two requests for one student racing on
PostgreSQL, the second UPDATE waits for the first transaction's row lock and then matches no
row; on SQLite the writers are serialised. Either way exactly one proceeds.

The requests arrive in runs (a delivery batch): :func:`request_transfers` applies a run with
a fixed number of statements whatever its length (decision 0019) — which transfer ids exist,
the run's registry entries, which receiving schools are closed, one claim UPDATE for the
students of the requests that pass every rule, then the new transfers, their steps and the
messages written together at the end. The outcome is that of the requests applied one by one
in delivery order: a transfer id seen before, or earlier in the run, is answered once; of two
requests in the run for one student the first goes on and the second is refused as
``transfer_in_progress``, as if the first had claimed the student already.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.national.adapters.orm import RegistryEntry, TransferRecord
from services.national.adapters.transfer_repository import HeldWrites, TransferRepository
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
from services.national.service_layer.key_fields import find_entries
from services.national.service_layer.merger import CLOSED_RULE, closed_among
from services.national.service_layer.transfers import metrics, notices
from services.national.service_layer.transfers.context import SagaContext
from shared.contracts.transfer import TransferRequested
from shared.db.keys import time_ordered_uuid
from shared.federation.config import School
from shared.messaging.emit import HeldMessages

log = logging.getLogger(__name__)

_CLOSED = Refusal(CLOSED_RULE, "the receiving school was merged or closed (N2013 art. 9)")


@dataclass
class _Pending:
    """A new request of a run, between the reads and the writes: what the rules found."""

    ctx: SagaContext
    request: TransferRequested
    correlation_id: uuid.UUID
    entry: RegistryEntry | None
    sides: Sides
    found: Refusal | None

    @property
    def transfer_id(self) -> str:
        return str(self.request.transfer_id)  # the saga's ids are text, as stored


async def request_transfers(
    contexts: Sequence[SagaContext],
    requests: Sequence[TransferRequested],
    correlation_ids: Sequence[uuid.UUID],
) -> list[Transfer | None]:
    """Refuse or start each transfer of a run (``contexts[i]`` and ``correlation_ids[i]``
    are those of ``requests[i]``; one session), with the outcome of one request after the
    other: the saga of each, ``None`` for a transfer id answered before (the answer was given
    then) or earlier in the run. A run of one is a single request."""
    if not requests:
        return []
    first = contexts[0]
    known = await first.transfers.existing({r.transfer_id for r in requests})
    new: dict[uuid.UUID, int] = {}
    for index, request in enumerate(requests):
        if request.transfer_id in known or request.transfer_id in new:
            log.info("transfer %s requested again: already answered", request.transfer_id)
        else:
            new[request.transfer_id] = index
    if not new:
        return [None] * len(requests)
    entries = await find_entries(first.registry, {requests[i].student_number for i in new.values()})
    pending = [
        _checked(contexts[i], requests[i], correlation_ids[i], entries) for i in new.values()
    ]
    closed = await closed_among(
        first.session, {p.request.to_school for p in pending if p.found is None}
    )
    claims = _claims(pending, closed)
    claimed = await first.transfers.claim_many(claims)
    held, messages = HeldWrites(), HeldMessages()
    sagas: dict[uuid.UUID, Transfer] = {}
    for one in pending:
        ctx = replace(one.ctx, held=held, outbox=replace(one.ctx.outbox, held=messages))
        one = replace(one, ctx=ctx)
        if one.found is None and one.entry is not None:
            if one.entry.student_number in claimed:
                sagas[one.request.transfer_id] = await _start(one, one.entry)
                continue
            one.found = in_progress_refusal()  # another transaction claimed the student
        sagas[one.request.transfer_id] = await _refuse(one)
    await TransferRepository(first.session, held).flush()
    await replace(first.outbox, held=messages).stage_held()
    answered = {index: sagas[transfer_id] for transfer_id, index in new.items()}
    return [answered.get(index) for index in range(len(requests))]


def _checked(
    ctx: SagaContext,
    request: TransferRequested,
    correlation_id: uuid.UUID,
    entries: dict[str, RegistryEntry],
) -> _Pending:
    """The request with its entry and the first rule that refuses it, as the registry reads."""
    to_school = ctx.rulebook.school(request.to_school)
    entry = entries.get(request.student_number)
    sides = ctx.rulebook.sides(request.from_school, to_school)
    into_track = to_school.in_yi_track(request.class_name)
    found = refusal(_request_of(request, into_track), _registration_of(entry), sides)
    return _Pending(ctx, request, correlation_id, entry, sides, found)


def _claims(pending: Sequence[_Pending], closed: set[str]) -> dict[str, str]:
    """Who the run claims (``{student number: transfer id}``), in delivery order: a request
    that passes every rule claims its student unless the receiving school is closed. A
    request for a student an earlier one of the run claims is refused as the registry would
    then show (``transfer_in_progress``, the rules' last: no other rule looks at the claim)."""
    claims: dict[str, str] = {}
    for one in pending:
        if one.found is not None or one.entry is None:
            continue
        if one.entry.student_number in claims:
            one.found = in_progress_refusal()
        elif one.request.to_school in closed:
            one.found = _CLOSED
        else:
            claims[one.entry.student_number] = one.transfer_id
    return claims


async def _refuse(one: _Pending) -> Transfer:
    assert one.found is not None
    ctx, request, entry = one.ctx, one.request, one.entry
    saga = Transfer(
        one.transfer_id,
        entry.student_number if entry else request.student_number,
        request.from_school,
        request.to_school,
    )
    saga.refuse(one.found.rule, one.found.reason, ctx.now)
    record = _record(ctx, request, saga, entry, one.correlation_id)
    await ctx.transfers.add(record, [])
    await ctx.outbox.send(notices.refused(record), to=saga.receiving_school_unit, record=record)
    metrics.ended(ctx.session, saga.state.value)
    log.info("transfer %s refused: %s", one.transfer_id, one.found.rule)
    return saga


async def _start(one: _Pending, entry: RegistryEntry) -> Transfer:
    ctx, request, sides, correlation_id = one.ctx, one.request, one.sides, one.correlation_id
    saga = Transfer(one.transfer_id, entry.student_number, request.from_school, request.to_school)
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
    return Step(
        str(time_ordered_uuid()), seq, planned.role, planned.party_unit, planned.superior_unit
    )


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
