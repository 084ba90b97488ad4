"""Message handlers of a progression (升学) batch: as thin as the routers.

- ``progression.requested``: the receiving school only (N2013 art. 14: 转入学校启动);
- ``progression.step_decided``: the step's party, or its superior once the step is overdue,
  with ``decided_unit`` equal to the sender; anyone else is a security refusal
  (``not_a_party``). A decision on a step no longer open is acknowledged and ignored.
"""

from __future__ import annotations

from services.national.adapters.progression_repository import ProgressionRepository
from services.national.domain.transfer import NoSay, NotEntitled
from services.national.entrypoints.transfer_messages import receiving_school
from services.national.service_layer.progression import (
    Moment,
    UnknownProgression,
    decide_step,
    request_progression,
)
from services.national.service_layer.transfers.context import TransferDeps
from services.national.service_layer.transfers.rulebook import UnknownUnit
from shared.contracts.progression import ProgressionRequested, ProgressionStepDecided
from shared.messaging.authorization import NotAParty
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register_progressions(handlers: HandlerRegistry, deps: TransferDeps) -> None:
    def moment() -> Moment:
        return Moment(deps.clock.today(), deps.clock.now())

    async def on_requested(ctx: HandlerContext, request: ProgressionRequested) -> None:
        receiving_school(deps, request.to_school, ctx.envelope.source)
        repo = ProgressionRepository(ctx.session)
        try:
            await request_progression(
                repo, ctx.emit, deps.rulebook, request, moment(), ctx.envelope.correlation_id
            )
        except UnknownUnit as exc:
            raise PermanentMessageError(str(exc)) from exc

    async def on_decided(ctx: HandlerContext, decided: ProgressionStepDecided) -> None:
        sender = str(ctx.envelope.source)
        if decided.decided_unit != sender:
            raise NotAParty(f"decided_unit {decided.decided_unit} is not the sender {sender}")
        repo = ProgressionRepository(ctx.session)
        try:
            await decide_step(repo, ctx.emit, deps.rulebook, decided, moment())
        except NoSay as exc:
            raise NotAParty(str(exc)) from exc
        except (UnknownProgression, NotEntitled) as exc:
            raise PermanentMessageError(str(exc)) from exc

    handlers.register(ProgressionRequested, on_requested)
    handlers.register(ProgressionStepDecided, on_decided)
