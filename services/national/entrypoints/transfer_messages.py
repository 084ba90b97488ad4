"""Message handlers of the transfer saga: as thin as the routers.

Who may send what (the tiers are the contracts' data, checked by the consumer; the units
here). A sender that is no party is a security refusal (``not_a_party``: dead-lettered with an
alert, decision 0025); anything else that can never apply is dead-lettered, the reason naming
units only:

- ``transfer.requested`` and ``transfer.cancel_requested``: the receiving school only;
- ``transfer.step_decided``: the step's party, or its superior once the step is overdue, with
  ``decided_unit`` equal to the sender. A decision on a step decided or void already is
  acknowledged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.national.domain.transfer import NoSay, NotEntitled
from services.national.service_layer.transfers.closing import UnknownTransfer, cancel_transfer
from services.national.service_layer.transfers.context import SagaContext, TransferDeps
from services.national.service_layer.transfers.decisions import (
    StepDecision,
    StepNotOpen,
    UnknownStep,
    decide_steps,
)
from services.national.service_layer.transfers.notices import Outbox
from services.national.service_layer.transfers.requests import request_transfers
from shared.contracts.transfer import (
    TransferCancelRequested,
    TransferRequested,
    TransferStepDecided,
)
from shared.federation.config import Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry

log = logging.getLogger(__name__)


def register_transfers(handlers: HandlerRegistry, deps: TransferDeps) -> None:
    """Register the transfer handlers: requests, decisions, cancellations."""

    async def on_requested(
        contexts: Sequence[HandlerContext], run: Sequence[TransferRequested]
    ) -> None:
        """A run of requests at once (set-based); one from a unit other than the receiving
        school fails the run, and the consumer then applies each message alone."""
        for ctx, request in zip(contexts, run, strict=True):
            receiving_school(deps, request.to_school, ctx.envelope.source)
        await request_transfers(
            [saga_context(c, deps) for c in contexts],
            run,
            [c.envelope.correlation_id for c in contexts],
        )

    async def on_decided(
        contexts: Sequence[HandlerContext], run: Sequence[TransferStepDecided]
    ) -> None:
        """A run of decisions at once (set-based); one that can never apply fails the run,
        and the consumer then applies each message alone, dead-lettering that one."""
        decisions = [
            step_decision(ctx, decided) for ctx, decided in zip(contexts, run, strict=True)
        ]
        try:
            ignored = await decide_steps([saga_context(c, deps) for c in contexts], decisions)
        except NoSay as exc:
            raise NotAParty(str(exc)) from exc
        except (UnknownTransfer, UnknownStep, NotEntitled) as exc:
            raise PermanentMessageError(str(exc)) from exc
        except StepNotOpen as exc:  # pending: the others are ignored, not raised
            raise PermanentMessageError(f"{exc}: it was never opened") from exc
        for decision, not_open in ignored:
            log.info("decision by %s ignored: %s", decision.decided_unit, not_open)

    async def on_cancel(ctx: HandlerContext, cancel: TransferCancelRequested) -> None:
        try:
            await cancel_transfer(
                saga_context(ctx, deps),
                cancel.transfer_id,
                str(ctx.envelope.source),
                cancel.reason,
            )
        except NoSay as exc:
            raise NotAParty(str(exc)) from exc
        except (UnknownTransfer, NotEntitled) as exc:
            raise PermanentMessageError(str(exc)) from exc

    handlers.register_many(TransferRequested, on_requested)
    handlers.register_many(TransferStepDecided, on_decided)
    handlers.register(TransferCancelRequested, on_cancel)


def step_decision(ctx: HandlerContext, decided: TransferStepDecided) -> StepDecision:
    """The decision as the saga takes it; ``decided_unit`` must be the sender."""
    sender = str(ctx.envelope.source)
    if decided.decided_unit != sender:
        raise NotAParty(f"decided_unit {decided.decided_unit} is not the sender {sender}")
    return StepDecision(
        transfer_id=decided.transfer_id,
        step_id=decided.step_id,
        approve=decided.decision == "approve",
        decided_by=decided.decided_by,
        decided_unit=sender,
        reason=decided.reason,
        rule=decided.rule,
    )


def receiving_school(deps: TransferDeps, school_code: str, source: UnitRef) -> None:
    """Only the receiving school starts a transfer (N2013 art. 14: 转入学校启动)."""
    if deps.rulebook.federation.school(school_code) is None:
        raise PermanentMessageError(f"unknown school {school_code}")
    expected = UnitRef(tier=Tier.SCHOOL, code=school_code)
    if source != expected:
        raise NotAParty(
            f"{source} may not request a transfer into school {school_code}: only {expected} may"
        )


def saga_context(ctx: HandlerContext, deps: TransferDeps) -> SagaContext:
    """The saga's context for one incoming message: its transaction, causation and trace."""
    outbox = Outbox(ctx.session, ctx.envelope.message_id, ctx.trace_context)
    today, now = deps.clock.today(), deps.clock.now()
    return SagaContext(ctx.session, deps.rulebook, outbox, today, now)
