"""Message handlers of the national tier: as thin as the routers.

Only a school's registry authority (学籍主管部门: its county, or its province for a
province-direct school) may send its approvals; anything else can never apply and is
dead-lettered (the reason names units only, never personal data). The transfer saga's
handlers, with their own rules of who may send what, are in :mod:`.transfer_messages`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.national.adapters.repository import NationalRepository
from services.national.entrypoints.transfer_messages import register_transfers
from services.national.service_layer.key_fields import decide_key_field_change
from services.national.service_layer.ports import division_of
from services.national.service_layer.registration import (
    BatchContext,
    MalformedBatch,
    decide_approved_batch,
)
from services.national.service_layer.status_changes import Moment, decide_status_change
from services.national.service_layer.transfers.context import TransferDeps
from shared.contracts.registration import KeyFieldChangeApproved, RegistrationBatchApproved
from shared.contracts.status import StatusChangeApproved
from shared.federation.config import Federation, School, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register(handlers: HandlerRegistry, federation: Federation, transfers: TransferDeps) -> None:
    """Register the national handlers: registration batches, key-field changes, status
    changes, transfers."""

    async def on_batch_approved(ctx: HandlerContext, batch: RegistrationBatchApproved) -> None:
        authorised_school(federation, batch.school_code, ctx.envelope.source)
        context = BatchContext(
            correlation_id=ctx.envelope.correlation_id,
            authority=str(ctx.envelope.source),
            division=division_of(federation, batch.school_code),
            now=datetime.now(UTC),
        )
        try:
            await decide_approved_batch(NationalRepository(ctx.session), ctx.emit, batch, context)
        except MalformedBatch as exc:
            raise PermanentMessageError(str(exc)) from exc

    async def on_key_field_change(ctx: HandlerContext, change: KeyFieldChangeApproved) -> None:
        authorised_school(federation, change.school_code, ctx.envelope.source)
        repo = NationalRepository(ctx.session)
        await decide_key_field_change(repo, ctx.emit, change, datetime.now(UTC))

    async def on_status_change(ctx: HandlerContext, change: StatusChangeApproved) -> None:
        authorised_school(federation, change.school_code, ctx.envelope.source)
        clock = Moment(transfers.clock.today(), transfers.clock.now())
        await decide_status_change(ctx.session, ctx.emit, transfers.rulebook, change, clock)

    handlers.register(RegistrationBatchApproved, on_batch_approved)
    handlers.register(KeyFieldChangeApproved, on_key_field_change)
    handlers.register(StatusChangeApproved, on_status_change)
    register_transfers(handlers, transfers)


def authorised_school(federation: Federation, school_code: str, source: UnitRef) -> School:
    """The school, if ``source`` is its registry authority; otherwise the message can never
    apply (an unknown school, or an approval by a unit that has no say over it)."""
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"unknown school {school_code}")
    if source != school.authority_unit:
        raise PermanentMessageError(
            f"{source} is not the registry authority of school {school_code}"
            f" ({school.authority_unit} is)"
        )
    return school
