"""Use case: read transfers — one transfer with every step, a student's transfers, a unit's
overdue steps, and the counts the metrics show. "What is this transfer waiting for, and until
when?" is one query (the open step and its due date).

Whoever queries is accountable (ZJ art. 30): reads are logged with ids and units only.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date

from services.national.adapters.repository import NationalRepository
from services.national.adapters.transfer_repository import (
    LoadedTransfer,
    StepRow,
    TransferRepository,
)
from services.national.service_layer.key_fields import find_entry
from shared.runtime.errors import NotFound

log = logging.getLogger(__name__)


async def get_transfer(transfers: TransferRepository, transfer_id: uuid.UUID) -> LoadedTransfer:
    loaded = await transfers.load(transfer_id)
    if loaded is None:
        raise NotFound(f"no transfer {transfer_id}", rule="unknown_transfer")
    log.info("transfer %s read", transfer_id)
    return loaded


async def transfers_of_student(
    transfers: TransferRepository, student_number: str
) -> list[LoadedTransfer]:
    """Also under an earlier number of the same student (L → G keeps the entry)."""
    entry = await find_entry(NationalRepository(transfers.session), student_number)
    number = entry.student_number if entry else student_number
    found = await transfers.of_student(number, entry.entry_id if entry else None)
    log.info("transfers of a student listed: %d", len(found))
    return found


async def overdue_steps(transfers: TransferRepository, unit: str, as_of: date) -> list[StepRow]:
    """Open steps past due on ``as_of`` whose party or superior is ``unit``."""
    rows = await transfers.overdue_for(unit, as_of)
    log.info("overdue transfer steps of %s on %s listed: %d", unit, as_of, len(rows))
    return rows


async def open_step_gauge(
    transfers: TransferRepository, as_of: date
) -> dict[tuple[str, ...], float]:
    """``{(party unit, "open" | "overdue"): count}`` for the metrics."""
    values: dict[tuple[str, ...], float] = {}
    for unit, (open_steps, overdue) in (await transfers.open_step_counts(as_of)).items():
        values[(unit, "open")] = open_steps
        values[(unit, "overdue")] = overdue
    return values
