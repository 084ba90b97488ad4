"""The authority's message handlers: thin, they hand the submission to the intake."""

from __future__ import annotations

from shared.authority import intake
from shared.authority.role import RegistryAuthority
from shared.contracts.registration import KeyFieldChangeSubmitted, RegistrationBatchSubmitted
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register(handlers: HandlerRegistry, authority: RegistryAuthority) -> None:
    """Subscribe the authority to what schools submit to it."""

    async def on_batch_submitted(ctx: HandlerContext, batch: RegistrationBatchSubmitted) -> None:
        await intake.receive_batch(authority, ctx, batch)

    async def on_key_field_change_submitted(
        ctx: HandlerContext, change: KeyFieldChangeSubmitted
    ) -> None:
        await intake.receive_key_field_change(authority, ctx, change)

    handlers.register(RegistrationBatchSubmitted, on_batch_submitted)
    handlers.register(KeyFieldChangeSubmitted, on_key_field_change_submitted)
