"""Use cases that end a transfer without moving the student: rejection (the end of
:mod:`.decisions`), cancellation by the receiving school, and a stop when the student's
registration changed meanwhile.

Each one voids the steps still pending or open, releases the student
(``active_transfer_id``) and sends ``transfer.closed`` to the receiving school and to every
unit that had the transfer on its list (parties whose step was opened, superiors told of an
overdue step).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.repository import NationalRepository
from services.national.adapters.transfer_repository import LoadedTransfer, TransferRepository
from services.national.domain.transfer import RULE_STATUS_CHANGED, NoSay
from services.national.service_layer.key_fields import find_entry
from services.national.service_layer.transfers import metrics, notices
from services.national.service_layer.transfers.context import SagaContext
from services.national.service_layer.transfers.notices import Outbox
from shared.federation.config import NATIONAL

log = logging.getLogger(__name__)


class UnknownTransfer(Exception):
    """No transfer has this id."""


async def close(transfers: TransferRepository, outbox: Outbox, loaded: LoadedTransfer) -> None:
    """Persist an ended (not completed) transfer, release the student, tell who must know."""
    saga = loaded.saga
    await transfers.save(saga)
    await transfers.release(saga.transfer_id)
    message = notices.closed(saga, saga.state.value)
    for unit in saga.units_to_tell_of_closing(str(NATIONAL)):
        await outbox.send(message, to=unit, record=loaded.record)
    metrics.ended(transfers.session, saga.state.value)
    log.info("transfer %s %s: %s", saga.transfer_id, saga.state.value, saga.closing_rule)


async def cancel_transfer(
    ctx: SagaContext, transfer_id: uuid.UUID, requested_by: str, reason: str
) -> LoadedTransfer:
    """The receiving school withdraws its request before completion. A transfer that has
    ended already is left as it is (the school has had its answer)."""
    loaded = await ctx.transfers.load(transfer_id, lock=True)
    if loaded is None:
        raise UnknownTransfer(f"no transfer {transfer_id}")
    saga = loaded.saga
    if requested_by != saga.receiving_school_unit:
        raise NoSay(
            f"{requested_by} is not the receiving school of transfer {transfer_id} "
            f"({saga.receiving_school_unit} is)"
        )
    if not saga.is_active:
        log.info("cancellation of transfer %s ignored: it is %s", transfer_id, saga.state.value)
        return loaded
    saga.cancel(reason, ctx.now)
    await close(ctx.transfers, ctx.outbox, loaded)
    return loaded


async def stop_transfer(
    transfers: TransferRepository,
    outbox: Outbox,
    loaded: LoadedTransfer,
    reason: str,
    now: datetime,
) -> None:
    loaded.saga.stop(RULE_STATUS_CHANGED, reason[:500], now)
    await close(transfers, outbox, loaded)


async def stop_active_transfer(
    session: AsyncSession, student_number: str, reason: str, *, now: datetime | None = None
) -> uuid.UUID | None:
    """Stop the student's active transfer, if any, because their status changes (suspension,
    dropout, death ...): call it in the transaction that records the change. Returns the
    stopped transfer's id; the parties hear ``transfer.closed`` (stopped, status_changed)."""
    entry = await find_entry(NationalRepository(session), student_number)
    if entry is None or entry.active_transfer_id is None:
        return None
    transfers = TransferRepository(session)
    loaded = await transfers.load(uuid.UUID(entry.active_transfer_id), lock=True)
    if loaded is None or not loaded.saga.is_active:
        log.warning("student entry %s held by a transfer that is not active", entry.entry_id)
        await transfers.release(entry.active_transfer_id)
        return None
    await stop_transfer(transfers, Outbox(session), loaded, reason, now or datetime.now(UTC))
    return uuid.UUID(loaded.saga.transfer_id)
