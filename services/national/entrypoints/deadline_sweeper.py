"""The periodic transfer deadline sweep: a background task of the national runtime.

It runs at start (a restart catches up: deadlines are data) and then every
``deadline_sweep_interval`` seconds, with the runtime clock's Beijing date. A failed run is
logged and retried at the next interval; two instances sweeping at once send nothing twice
(see :mod:`services.national.service_layer.transfers.deadlines`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.national.adapters.transfer_repository import TransferRepository
from services.national.service_layer.transfers.context import TransferDeps
from services.national.service_layer.transfers.deadlines import SweepReport, sweep_deadlines
from services.national.service_layer.transfers.notices import Outbox
from shared.db.engine import SessionFactory

log = logging.getLogger(__name__)


class DeadlineSweeper:
    def __init__(self, sessions: SessionFactory, deps: TransferDeps, interval: float) -> None:
        self._sessions = sessions
        self._deps = deps
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="transfer-deadline-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep_once(self) -> SweepReport:
        """One sweep for today, in one transaction."""
        async with self._sessions() as session, session.begin():
            return await sweep_deadlines(
                TransferRepository(session),
                Outbox(session),
                self._deps.rulebook,
                self._deps.clock.today(),
                self._deps.clock.now(),
            )

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("transfer deadline sweep failed; next try in %s s", self.interval)
            self.runs += 1
            await asyncio.sleep(self.interval)
