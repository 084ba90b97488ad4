"""The authority's message handlers: thin, they hand each message to its use case."""

from __future__ import annotations

from components.approval_desk import duplicates, graduation, intake, transfers, verification
from components.approval_desk.role import RegistryAuthority
from shared.contracts.duplicates import DuplicateApprovalRequested
from shared.contracts.graduation import GraduationBatchSubmitted
from shared.contracts.registration import KeyFieldChangeSubmitted, RegistrationBatchSubmitted
from shared.contracts.status import StatusChangeSubmitted
from shared.contracts.transfer import (
    TransferClosed,
    TransferStepOpened,
    TransferStepOverdue,
    TransferStepReminder,
    TransferStepSettled,
)
from shared.contracts.verification import VerificationFindings
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register(handlers: HandlerRegistry, authority: RegistryAuthority) -> None:
    """Subscribe the authority to what schools submit to it and to its transfer steps."""

    async def on_batch_submitted(ctx: HandlerContext, batch: RegistrationBatchSubmitted) -> None:
        await intake.receive_batch(authority, ctx, batch)

    async def on_key_field_change_submitted(
        ctx: HandlerContext, change: KeyFieldChangeSubmitted
    ) -> None:
        await intake.receive_key_field_change(authority, ctx, change)

    async def on_status_change_submitted(
        ctx: HandlerContext, change: StatusChangeSubmitted
    ) -> None:
        await intake.receive_status_change(authority, ctx, change)

    async def on_step_opened(ctx: HandlerContext, step: TransferStepOpened) -> None:
        await transfers.receive_step(authority, ctx, step)

    async def on_step_reminder(ctx: HandlerContext, reminder: TransferStepReminder) -> None:
        await transfers.note_reminder(authority, ctx, reminder)

    async def on_step_overdue(ctx: HandlerContext, overdue: TransferStepOverdue) -> None:
        await transfers.receive_overdue(authority, ctx, overdue)

    async def on_transfer_closed(ctx: HandlerContext, closed: TransferClosed) -> None:
        await transfers.void_closed(authority, ctx, closed)

    async def on_graduation_submitted(ctx: HandlerContext, batch: GraduationBatchSubmitted) -> None:
        await graduation.receive_graduation_batch(authority, ctx, batch)

    handlers.register(RegistrationBatchSubmitted, on_batch_submitted)
    handlers.register(GraduationBatchSubmitted, on_graduation_submitted)

    async def on_verification_findings(ctx: HandlerContext, found: VerificationFindings) -> None:
        await verification.receive_verification_findings(authority, ctx, found)

    handlers.register(VerificationFindings, on_verification_findings)

    async def on_duplicate_requested(
        ctx: HandlerContext, request: DuplicateApprovalRequested
    ) -> None:
        await duplicates.receive_request(authority, ctx, request)

    handlers.register(DuplicateApprovalRequested, on_duplicate_requested)
    handlers.register(KeyFieldChangeSubmitted, on_key_field_change_submitted)
    handlers.register(StatusChangeSubmitted, on_status_change_submitted)
    handlers.register(TransferStepOpened, on_step_opened)
    handlers.register(TransferStepReminder, on_step_reminder)
    handlers.register(TransferStepOverdue, on_step_overdue)
    handlers.register(TransferClosed, on_transfer_closed)

    async def on_step_settled(ctx: HandlerContext, settled: TransferStepSettled) -> None:
        await transfers.void_settled(authority, ctx, settled)

    handlers.register(TransferStepSettled, on_step_settled)
