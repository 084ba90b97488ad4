"""The periodic transfer deadline sweep: a background task of the national runtime.

It runs at start (a restart catches up: deadlines are data) and then every
``deadline_sweep_interval`` seconds, with the runtime clock's Beijing date. A failed run is
logged and retried at the next interval; two instances sweeping at once send nothing twice
(see :mod:`services.national.service_layer.transfers.deadlines`).
"""

from __future__ import annotations

from services.national.adapters.transfer_repository import TransferRepository
from services.national.entrypoints.periodic import PeriodicSweeper
from services.national.service_layer.transfers.deadlines import SweepReport, sweep_deadlines
from services.national.service_layer.transfers.notices import Outbox
from shared.messaging.uow import UnitOfWork


class DeadlineSweeper(PeriodicSweeper):
    name = "transfer-deadline-sweep"

    async def sweep(self, uow: UnitOfWork) -> SweepReport:
        """One sweep for today."""
        return await sweep_deadlines(
            TransferRepository(uow.session),
            Outbox(uow.session),
            self._deps.rulebook,
            self._deps.clock.today(),
            self._deps.clock.now(),
        )
