"""The desk's message handlers: thin, they hand each message to its use case.

A registry authority (county, province) subscribes with :func:`register`; a party that only
decides transfer steps (the sending school) with :func:`register_transfer_steps`, and voids
its tasks of a closed transfer from its own ``transfer.closed`` handler
(:func:`components.approval_desk.transfers.void_closed`), which also ends its transfer in.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.approval_desk import (
    alerts,
    duplicates,
    filing,
    graduation,
    intake,
    progression,
    transfers,
    verification,
)
from components.approval_desk.desk import ApprovalDesk
from shared.contracts.duplicates import DuplicateApprovalRequested
from shared.contracts.filing import FilingSubmitted
from shared.contracts.graduation import GraduationBatchSubmitted
from shared.contracts.progression import (
    ProgressionClosed,
    ProgressionStepOpened,
    ProgressionStepOverdue,
    ProgressionStepSettled,
)
from shared.contracts.registration import KeyFieldChangeSubmitted, RegistrationBatchSubmitted
from shared.contracts.statistics import AlertRaised
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


def register(handlers: HandlerRegistry, desk: ApprovalDesk) -> None:
    """A registry authority's desk: what schools submit to it, national's requests, its
    transfer steps, interventions for its late parties, and closed transfers."""
    register_submissions(handlers, desk)
    register_transfer_steps(handlers, desk)

    async def on_step_overdue(ctx: HandlerContext, overdue: TransferStepOverdue) -> None:
        await transfers.receive_overdue(desk, ctx, overdue)

    async def on_transfer_closed(ctx: HandlerContext, closed: TransferClosed) -> None:
        await transfers.void_closed(desk, ctx, closed)

    async def on_progression_closed(ctx: HandlerContext, closed: ProgressionClosed) -> None:
        await progression.void_closed(desk, ctx, closed)

    async def on_progression_overdue(ctx: HandlerContext, overdue: ProgressionStepOverdue) -> None:
        await progression.receive_overdue(desk, ctx, overdue)

    handlers.register(TransferStepOverdue, on_step_overdue)
    handlers.register(TransferClosed, on_transfer_closed)
    handlers.register(ProgressionClosed, on_progression_closed)
    handlers.register(ProgressionStepOverdue, on_progression_overdue)


def register_submissions(handlers: HandlerRegistry, desk: ApprovalDesk) -> None:
    """What a school submits to its registry authority, and what national asks of it."""

    async def on_batch_submitted(ctx: HandlerContext, batch: RegistrationBatchSubmitted) -> None:
        await intake.receive_batch(desk, ctx, batch)

    async def on_key_field_change_submitted(
        ctx: HandlerContext, change: KeyFieldChangeSubmitted
    ) -> None:
        await intake.receive_key_field_change(desk, ctx, change)

    async def on_status_change_submitted(
        ctx: HandlerContext, change: StatusChangeSubmitted
    ) -> None:
        await intake.receive_status_change(desk, ctx, change)

    async def on_graduation_submitted(ctx: HandlerContext, batch: GraduationBatchSubmitted) -> None:
        await graduation.receive_graduation_batch(desk, ctx, batch)

    async def on_verification_findings(ctx: HandlerContext, found: VerificationFindings) -> None:
        await verification.receive_verification_findings(desk, ctx, found)

    async def on_duplicate_requested(
        ctx: HandlerContext, request: DuplicateApprovalRequested
    ) -> None:
        await duplicates.receive_request(desk, ctx, request)

    handlers.register(RegistrationBatchSubmitted, on_batch_submitted)
    handlers.register(KeyFieldChangeSubmitted, on_key_field_change_submitted)
    handlers.register(StatusChangeSubmitted, on_status_change_submitted)
    handlers.register(GraduationBatchSubmitted, on_graduation_submitted)
    handlers.register(VerificationFindings, on_verification_findings)
    handlers.register(DuplicateApprovalRequested, on_duplicate_requested)

    async def on_filing(ctx: HandlerContext, filed: FilingSubmitted) -> None:
        await filing.receive_filing(desk, ctx, filed)

    handlers.register(FilingSubmitted, on_filing)

    async def on_alert(ctx: HandlerContext, alert: AlertRaised) -> None:
        await alerts.receive_alert(desk, ctx, alert)

    handlers.register(AlertRaised, on_alert)


def register_transfer_steps(handlers: HandlerRegistry, desk: ApprovalDesk) -> None:
    """A deciding party's steps (of transfers and progressions): opened, reminded, settled by
    someone else."""

    async def on_steps_opened(
        contexts: Sequence[HandlerContext], steps: Sequence[TransferStepOpened]
    ) -> None:
        await transfers.receive_steps(desk, contexts, steps)

    async def on_step_reminder(ctx: HandlerContext, reminder: TransferStepReminder) -> None:
        await transfers.note_reminder(desk, ctx, reminder)

    async def on_step_settled(ctx: HandlerContext, settled: TransferStepSettled) -> None:
        await transfers.void_settled(desk, ctx, settled)

    async def on_progression_step(ctx: HandlerContext, step: ProgressionStepOpened) -> None:
        await progression.receive_step(desk, ctx, step)

    handlers.register_many(TransferStepOpened, on_steps_opened)  # set-based: a run at once

    async def on_progression_settled(ctx: HandlerContext, settled: ProgressionStepSettled) -> None:
        await progression.void_settled(desk, ctx, settled)

    handlers.register(ProgressionStepOpened, on_progression_step)
    handlers.register(ProgressionStepSettled, on_progression_settled)
    handlers.register(TransferStepReminder, on_step_reminder)
    handlers.register(TransferStepSettled, on_step_settled)
