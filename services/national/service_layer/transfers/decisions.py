"""Use case: a party (or its superior, once the step is overdue) decides a transfer step.

- Only the step's party may decide it; its superior may step in once the step is past its
  due date (HA art. 11(三)) — recorded as an intervention. Anyone else: :class:`NotEntitled`.
- A decision on a step that is decided or void already is acknowledged and ignored
  (:class:`StepNotOpen`): redeliveries, and the party and its superior deciding at once.
- Before anything is recorded the registry is read again: a student whose registration
  changed meanwhile (no longer enrolled at the sending school) stops the transfer.
- Approve → the next step opens, or, after the last one, the transfer COMPLETES in this one
  transaction: the registry entry moves to the receiving school (one UPDATE that also
  releases the claim), the archive falls due a month later (N2013 art. 15), and both schools
  and both provinces hear ``transfer.completed``.
- Reject → the transfer closes as rejected (:mod:`.closing`).

The parties' decisions arrive in runs (a delivery batch): :func:`decide_steps` applies a run
with the same rules, reading its transfers (locked), steps and registry entries in three
statements and writing its changes and messages together at the end (decision 0019). In
memory the decisions apply one after the other, in delivery order, so two decisions on one
transfer in a run behave as if delivered in two batches.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.national.adapters.orm import RegistryEntry
from services.national.adapters.transfer_repository import (
    HeldWrites,
    LoadedTransfer,
    TransferRepository,
)
from services.national.domain.transfer import Decision, NoSay, NotEntitled, Step, StepState
from services.national.domain.transfer_rules import ENROLLED
from services.national.service_layer.transfers import metrics, notices
from services.national.service_layer.transfers.closing import UnknownTransfer, close, stop_transfer
from services.national.service_layer.transfers.context import SagaContext
from shared.contracts.transfer import TransferStepSettled
from shared.federation.config import NATIONAL
from shared.messaging.emit import HeldMessages
from shared.runtime.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


class UnknownStep(Exception):
    """The transfer has no step with this id."""


class StepNotOpen(Exception):
    """The step is not open: decided or void (ignore), or still pending (never sent out)."""

    def __init__(self, step: Step) -> None:
        super().__init__(f"step {step.step_id} is {step.state.value}")
        self.step = step

    @property
    def pending(self) -> bool:
        return self.step.state is StepState.PENDING


@dataclass(frozen=True)
class StepDecision:
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    approve: bool
    decided_by: str
    decided_unit: str  # who sent it: the party, or its superior
    reason: str | None = None
    rule: str | None = None


async def decide_step(ctx: SagaContext, decision: StepDecision) -> LoadedTransfer:
    """Apply one decision; returns the transfer as it stands afterwards."""
    loaded = await ctx.transfers.load(decision.transfer_id, lock=True)
    if loaded is None:
        raise UnknownTransfer(f"no transfer {decision.transfer_id}")
    step, intervention = _decidable(ctx, loaded, decision)
    entry = await ctx.registry.entry_by_id(loaded.record.entry_id or "")
    await _decide(ctx, loaded, step, intervention, decision, entry)
    return loaded


async def decide_steps(
    contexts: Sequence[SagaContext], decisions: Sequence[StepDecision]
) -> list[tuple[StepDecision, StepNotOpen]]:
    """Apply a run of decisions (``contexts[i]`` is the context of ``decisions[i]``: one
    session) as :func:`decide_step` would one by one, and return those ignored because their
    step was decided or void already. Raises as :func:`decide_step` for the first decision
    that can never apply; the run's writes are then left unwritten."""
    if not decisions:
        return []
    first = contexts[0]
    held, messages = HeldWrites(), HeldMessages()
    found = await first.transfers.lock_many({d.transfer_id for d in decisions})
    entry_ids = {loaded.record.entry_id or "" for loaded in found.values()}
    entries = await first.registry.entries_by_id(entry_ids)
    ignored: list[tuple[StepDecision, StepNotOpen]] = []
    for plain, decision in zip(contexts, decisions, strict=True):
        ctx = replace(plain, held=held, outbox=replace(plain.outbox, held=messages))
        loaded = found.get(decision.transfer_id)
        if loaded is None:
            raise UnknownTransfer(f"no transfer {decision.transfer_id}")
        try:
            step, intervention = _decidable(ctx, loaded, decision)
        except StepNotOpen as exc:
            if exc.pending:
                raise
            ignored.append((decision, exc))
            continue
        entry = entries.get(loaded.record.entry_id or "")
        await _decide(ctx, loaded, step, intervention, decision, entry)
    await TransferRepository(first.session, held).flush()
    await replace(first.outbox, held=messages).stage_held()
    return ignored


def _decidable(
    ctx: SagaContext, loaded: LoadedTransfer, decision: StepDecision
) -> tuple[Step, bool]:
    """The open step the decision is about, and whether it is an intervention; raises
    :class:`UnknownStep`, :class:`NotEntitled` or :class:`StepNotOpen` otherwise."""
    step = _open_step(loaded, decision)
    return step, step.entitled(decision.decided_unit, ctx.today)


async def _decide(
    ctx: SagaContext,
    loaded: LoadedTransfer,
    step: Step,
    intervention: bool,
    decision: StepDecision,
    entry: RegistryEntry | None,
) -> None:
    """Record a decision on an open step the decider is entitled to: stop, approve or reject."""
    changed = _registration_changed(loaded, entry)
    if changed is not None:
        await stop_transfer(ctx.transfers, ctx.outbox, loaded, changed, ctx.now)
        return
    assert entry is not None
    recorded = Decision(
        approve=decision.approve,
        decided_by=decision.decided_by,
        decided_unit=decision.decided_unit,
        decided_at=ctx.now,
        intervention=intervention,
        reason=decision.reason,
        rule=decision.rule,
    )
    if decision.approve:
        await _tell_the_other_holder(ctx, loaded, step, recorded)
        await _approve(ctx, loaded, step, recorded, entry)
    else:
        loaded.saga.reject(step, recorded)
        await close(ctx.transfers, ctx.outbox, loaded)


async def _tell_the_other_holder(
    ctx: SagaContext, loaded: LoadedTransfer, step: Step, decision: Decision
) -> None:
    """After an approval, the unit that still holds a task for this step is told it is settled:
    the party when its superior intervened, the superior when it had been told the step was
    overdue and the party decided after all. (A rejection closes the whole transfer, and
    ``transfer.closed`` reaches both.)"""
    if decision.intervention:
        holder = step.party_unit
    elif step.overdue_notified_at is not None:
        holder = step.superior_unit
    else:
        return
    settled = TransferStepSettled(
        transfer_id=uuid.UUID(loaded.record.transfer_id),
        step_id=uuid.UUID(step.step_id),
        decision="approve",
        decided_unit=decision.decided_unit,
        intervention=decision.intervention,
    )
    if holder != str(NATIONAL):
        await ctx.outbox.send(settled, to=holder, record=loaded.record)


def _open_step(loaded: LoadedTransfer, decision: StepDecision) -> Step:
    step = loaded.saga.step(decision.step_id)
    if step is None:
        raise UnknownStep(f"transfer {decision.transfer_id} has no step {decision.step_id}")
    if not step.concerns(decision.decided_unit):
        raise NoSay(
            f"{decision.decided_unit} is neither the party ({step.party_unit}) of step "
            f"{step.step_id} nor its superior ({step.superior_unit})"
        )
    if step.state is not StepState.OPEN:
        raise StepNotOpen(step)
    return step


def _registration_changed(loaded: LoadedTransfer, entry: RegistryEntry | None) -> str | None:
    """Why the transfer cannot go on, if the registry no longer has the student enrolled at
    the sending school (status, school and registration are basic info: no personal data)."""
    if entry is None:
        return "the registration no longer exists"
    if entry.status != ENROLLED:
        return f"the student's registration changed while the transfer was open: now {entry.status}"
    if entry.school_code != loaded.record.from_school:
        return f"the student is no longer registered at school {loaded.record.from_school}"
    return None


async def _approve(
    ctx: SagaContext,
    loaded: LoadedTransfer,
    step: Step,
    decision: Decision,
    entry: RegistryEntry,
) -> None:
    saga, record = loaded.saga, loaded.record
    opened = saga.approve(step, decision, on=ctx.today, deadline_of=ctx.rulebook.deadline_of)
    if opened is not None:
        await ctx.transfers.save(saga)
        message = notices.step_opened(record, opened, entry)
        await ctx.outbox.send(message, to=opened.party_unit, record=record)
        return
    days = ctx.rulebook.archive_handover_days(record.from_province)
    saga.complete(ctx.now, ctx.today, days)
    await ctx.transfers.save(saga)
    moved = await ctx.transfers.move_registration(
        saga.transfer_id, record.to_school, record.to_province, record.grade, ctx.now, entry
    )
    if not moved:  # the claim is the invariant the whole saga rests on
        raise RuntimeError(f"transfer {saga.transfer_id} completed without holding the student")
    done = notices.completed(record, saga, entry)
    await ctx.outbox.send_all(done, to=notices.completed_targets(record), record=record)
    metrics.ended(ctx.session, saga.state.value)
    log.info("transfer %s completed", saga.transfer_id)


async def intervene(
    ctx: SagaContext,
    transfer_id: uuid.UUID,
    step_id: uuid.UUID,
    *,
    approve: bool,
    decided_by: str,
    reason: str,
) -> LoadedTransfer:
    """A national officer decides an overdue province step on the province's behalf
    (national is a province's superior). Refusals are HTTP errors with a rule."""
    decision = StepDecision(transfer_id, step_id, approve, decided_by, str(NATIONAL), reason=reason)
    try:
        return await decide_step(ctx, decision)
    except (UnknownTransfer, UnknownStep) as exc:
        raise NotFound(str(exc), rule="unknown_transfer_step") from exc
    except NotEntitled as exc:
        raise DomainError(str(exc), rule="not_entitled") from exc
    except StepNotOpen as exc:
        raise Conflict(str(exc), rule="step_not_open") from exc
