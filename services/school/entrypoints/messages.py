"""Messages the school applies: the outcomes of its registrations and key-field changes."""

from __future__ import annotations

from services.school.service_layer import key_field_change, registration
from shared.contracts.registration import KeyFieldChangeDecided, RegistrationBatchDecided
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register(handlers: HandlerRegistry) -> None:
    handlers.register(RegistrationBatchDecided, on_registration_batch_decided)
    handlers.register(KeyFieldChangeDecided, on_key_field_change_decided)


async def on_registration_batch_decided(
    ctx: HandlerContext, decided: RegistrationBatchDecided
) -> None:
    """Authority or national → school: the outcome of each registration of a batch."""
    _addressed_to(ctx, decided.school_code)
    await registration.apply_decision(ctx.session, decided)


async def on_key_field_change_decided(ctx: HandlerContext, decided: KeyFieldChangeDecided) -> None:
    """Authority or national → school: a key-field change applied or rejected."""
    _addressed_to(ctx, decided.school_code)
    await key_field_change.apply_change_decision(ctx.session, decided)


def _addressed_to(ctx: HandlerContext, school_code: str) -> None:
    if ctx.unit.code != school_code:
        raise PermanentMessageError(
            f"message about school {school_code} was addressed to {ctx.unit}"
        )
