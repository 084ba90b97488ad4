"""Messages the school applies: the outcomes of its registrations and key-field changes, and
its transfers — as receiving school (how the transfer it started ended) and as sending school
(its step, reminders, the end of the transfer, the student leaving).

Who may send them is the contracts' data, checked by the consumer (decision 0025); here, a
decision on the school's submission must be national's or a rejection by the school's own
registry authority: any other sender is a security refusal (``not_a_party``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from components.approval_desk import messages as desk_messages
from components.approval_desk import progression as desk_progression
from components.approval_desk import transfers as desk_transfers
from components.approval_desk.desk import ApprovalDesk
from services.school.service_layer import (
    duplicates,
    graduation,
    key_field_change,
    merger,
    progression_in,
    promotion,
    registration,
    status_changes,
    transfer_completion,
    transfer_in,
    verification,
)
from shared.contracts.duplicates import DuplicateResolutionDecided
from shared.contracts.graduation import GraduationBatchDecided
from shared.contracts.merger import SchoolMergedApplied
from shared.contracts.progression import (
    ProgressionClosed,
    ProgressionCompleted,
    ProgressionUpdated,
)
from shared.contracts.registration import KeyFieldChangeDecided, RegistrationBatchDecided
from shared.contracts.status import RegistryPromoted, StatusChangeDecided
from shared.contracts.transfer import TransferClosed, TransferCompleted, TransferRefused
from shared.contracts.verification import VerificationCampaignOpened
from shared.federation.config import Federation, School
from shared.messaging.authorization import require_decider
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.rules import yi_track_list_city


def register(handlers: HandlerRegistry) -> None:
    handlers.register_many(RegistryPromoted, promotion.apply_promoted)
    handlers.register(VerificationCampaignOpened, on_campaign_opened)
    handlers.register(DuplicateResolutionDecided, on_duplicate_decided)


def register_decisions(handlers: HandlerRegistry, federation: Federation) -> None:
    """The decisions on the school's submissions (who decided is checked: the federation
    says who the school's registry authority is)."""

    async def on_batch(ctx: HandlerContext, decided: RegistrationBatchDecided) -> None:
        await on_registration_batch_decided(ctx, decided, federation)

    async def on_key_fields(ctx: HandlerContext, decided: KeyFieldChangeDecided) -> None:
        await on_key_field_change_decided(ctx, decided, federation)

    async def on_status(ctx: HandlerContext, decided: StatusChangeDecided) -> None:
        await on_status_change_decided(ctx, decided, federation)

    async def on_graduation(ctx: HandlerContext, decided: GraduationBatchDecided) -> None:
        await on_graduation_decided(ctx, decided, federation)

    handlers.register(RegistrationBatchDecided, on_batch)
    handlers.register(KeyFieldChangeDecided, on_key_fields)
    handlers.register(StatusChangeDecided, on_status)
    handlers.register(GraduationBatchDecided, on_graduation)


def register_transfers(handlers: HandlerRegistry, desk: ApprovalDesk) -> None:
    """The transfer handlers: the school's steps are its approval desk's (opened, reminded,
    settled by the county); a closed or completed transfer ends the transfer in here, or
    voids the school's open step and lets the student leave."""
    runtime = desk.runtime
    federation, clock = runtime.federation, runtime.clock
    desk_messages.register_transfer_steps(handlers, desk)

    async def on_refused(ctx: HandlerContext, refused: TransferRefused) -> None:
        await transfer_in.apply_refused(ctx.session, ctx.unit.code, refused, clock.now())

    async def on_closed(ctx: HandlerContext, closed: TransferClosed) -> None:
        """To the receiving school (its transfer in ends) and to a sending school with an
        open step (its task is void)."""
        await transfer_in.apply_closed(ctx.session, ctx.unit.code, closed, clock.now())
        await desk_transfers.void_closed(desk, ctx, closed)

    async def on_completed(
        contexts: Sequence[HandlerContext], payloads: Sequence[TransferCompleted]
    ) -> None:
        """A run of completions, to receiving and sending schools hosted here, at once."""
        for ctx, completed in zip(contexts, payloads, strict=True):
            _party_to(ctx, federation, completed)
        completions = list(zip(contexts, payloads, strict=True))
        await transfer_completion.apply_many(desk, completions, clock.now())

    handlers.register(TransferRefused, on_refused)
    handlers.register(TransferClosed, on_closed)
    handlers.register_many(TransferCompleted, on_completed)
    register_progressions(handlers, desk)


def register_progressions(handlers: HandlerRegistry, desk: ApprovalDesk) -> None:
    """Progressions (升学): the receiving school hears national's outcomes and enrols the
    cohort; the sending school decides its step on its desk (registered with the transfer
    steps) and its open task is void when the progression closes."""
    clock = desk.runtime.clock

    async def on_updated(ctx: HandlerContext, updated: ProgressionUpdated) -> None:
        await progression_in.apply_updated(ctx.session, ctx.unit.code, updated, clock.now())

    async def on_completed(ctx: HandlerContext, completed: ProgressionCompleted) -> None:
        if ctx.unit.code not in (completed.from_school, completed.to_school):
            raise PermanentMessageError(
                f"progression {completed.progression_id} does not concern {ctx.unit}"
            )
        await progression_in.apply_completed(ctx.session, ctx.unit.code, completed, clock.now())

    async def on_closed(ctx: HandlerContext, closed: ProgressionClosed) -> None:
        await desk_progression.void_closed(desk, ctx, closed)

    handlers.register(ProgressionUpdated, on_updated)
    handlers.register(ProgressionCompleted, on_completed)
    handlers.register(ProgressionClosed, on_closed)

    async def on_merger_applied(ctx: HandlerContext, applied: SchoolMergedApplied) -> None:
        if ctx.unit.code not in (applied.from_school, applied.to_school):
            raise PermanentMessageError(f"merger {applied.merger_id} does not concern {ctx.unit}")
        await merger.apply(ctx.session, ctx.unit.code, applied, clock.now())

    handlers.register(SchoolMergedApplied, on_merger_applied)


async def on_registration_batch_decided(
    ctx: HandlerContext, decided: RegistrationBatchDecided, federation: Federation
) -> None:
    """Authority (rejections) or national → school: the outcome of each registration."""
    school = _addressed_to(ctx, federation, decided.school_code)
    rejection = all(o.outcome == "rejected" for o in decided.outcomes)
    require_decider(
        ctx,
        school,
        rejection=rejection,
        what="registration batch decision",
        also=yi_track_list_city(school),
    )
    await registration.apply_decision(ctx.session, decided)


async def on_key_field_change_decided(
    ctx: HandlerContext, decided: KeyFieldChangeDecided, federation: Federation
) -> None:
    """Authority (rejected) or national → school: a key-field change applied or rejected."""
    school = _addressed_to(ctx, federation, decided.school_code)
    # the authority's own: a rejection, or an applied hukou place change (decision 0043)
    rejection = decided.authority_decides()
    require_decider(ctx, school, rejection=rejection, what="key-field change decision")
    await key_field_change.apply_change_decision(ctx.session, decided)


async def on_status_change_decided(
    ctx: HandlerContext, decided: StatusChangeDecided, federation: Federation
) -> None:
    """Authority (rejected) or national → school: a status change applied or rejected."""
    school = _addressed_to(ctx, federation, decided.school_code)
    rejection = decided.outcome == "rejected"
    require_decider(ctx, school, rejection=rejection, what="status change decision")
    await status_changes.apply_decision(ctx.session, decided)


async def on_graduation_decided(
    ctx: HandlerContext, decided: GraduationBatchDecided, federation: Federation
) -> None:
    """Authority (rejected) or national (applied) → school: the graduating list's fate."""
    school = _addressed_to(ctx, federation, decided.school_code)
    rejection = decided.outcome == "rejected"
    require_decider(ctx, school, rejection=rejection, what="graduation decision")
    await graduation.apply_decision(ctx.session, decided, datetime.now(UTC))


async def on_campaign_opened(ctx: HandlerContext, opened: VerificationCampaignOpened) -> None:
    """national → school: confirm the roster for this term's campaign."""
    _addressed_to_unit(ctx, opened.school_code)
    await verification.record_campaign(ctx.session, opened)


async def on_duplicate_decided(ctx: HandlerContext, decided: DuplicateResolutionDecided) -> None:
    """national → the real school (outcome) and the other school (delete, when resolved)."""
    await duplicates.apply_decision(ctx.session, ctx.unit.code, decided, datetime.now(UTC))


def _addressed_to_unit(ctx: HandlerContext, school_code: str) -> None:
    if ctx.unit.code != school_code:
        raise PermanentMessageError(
            f"message about school {school_code} was addressed to {ctx.unit}"
        )


def _addressed_to(ctx: HandlerContext, federation: Federation, school_code: str) -> School:
    _addressed_to_unit(ctx, school_code)
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"school {school_code} is not in the federation")
    return school


def _party_to(ctx: HandlerContext, federation: Federation, completed: TransferCompleted) -> None:
    if ctx.unit.code not in (completed.from_school, completed.to_school):
        raise PermanentMessageError(
            f"transfer {completed.transfer_id} between {completed.from_school} and "
            f"{completed.to_school} was addressed to {ctx.unit}"
        )
    if completed.from_school == completed.to_school or federation.school(ctx.unit.code) is None:
        raise PermanentMessageError(f"transfer {completed.transfer_id} cannot apply here")
