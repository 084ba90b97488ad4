"""What every transfer use case works with: one transaction, the rules, the date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.repository import NationalRepository
from services.national.adapters.transfer_repository import HeldWrites, TransferRepository
from services.national.service_layer.transfers.notices import Outbox
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.clock import Clock


@dataclass
class TransferDeps:
    """What the transfer entrypoints are built with: the rules and the clock (tests move it)."""

    rulebook: Rulebook
    clock: Clock


@dataclass(frozen=True)
class SagaContext:
    """``today`` is the Beijing date national acts on (``runtime.clock``): steps open and
    fall due on it; ``now`` stamps decisions and endings. ``held``: the saga's writes wait
    for the end of a run of messages (see :mod:`.decisions`)."""

    session: AsyncSession
    rulebook: Rulebook
    outbox: Outbox
    today: date
    now: datetime
    held: HeldWrites | None = None

    @property
    def transfers(self) -> TransferRepository:
        return TransferRepository(self.session, self.held)

    @property
    def registry(self) -> NationalRepository:
        return NationalRepository(self.session)
