"""A sweep national runs in the background: once at start, then every ``interval`` seconds.

The runner is the periodic tasks' transaction boundary: each run is one unit of work it
commits once the sweep returned (a sweep, like every use case, never commits). A failed run
rolls back, is logged and retried at the next interval; ``interval`` 0 turns it off (the
tests drive time through the operations endpoints instead). Subclasses say what one run is
(:meth:`PeriodicSweeper.sweep`).

Replicas of national each run the sweeps; a run first takes the sweep's lease (a PostgreSQL
advisory lock held by its transaction, :mod:`shared.db.lease`), and a replica that does not get
it skips the round: one sweep at a time across the replicas. A sweep is also safe to repeat
(it marks what it sends in the statement that selects it), so a round skipped here or run
again after a killed replica never sends twice or loses a message.
"""

from __future__ import annotations

import logging
from typing import Any

from services.national.service_layer.transfers.context import TransferDeps
from shared.db.engine import SessionFactory
from shared.db.lease import try_lease
from shared.messaging.uow import UnitOfWork
from shared.runtime.periodic import Periodic

log = logging.getLogger(__name__)


class PeriodicSweeper:
    name = "sweep"

    def __init__(self, sessions: SessionFactory, deps: TransferDeps, interval: float) -> None:
        self._sessions = sessions
        self._deps = deps
        self.interval = interval
        self._periodic = Periodic(self.name, self.sweep_once, interval, at_start=True)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def sweep_once(self) -> Any:
        """One run, in one transaction committed when the sweep returned; None when another
        replica holds the sweep's lease (it is sweeping now)."""
        async with UnitOfWork(self._sessions) as uow:
            if not await try_lease(uow.session, self.name):
                log.info("%s: another replica is sweeping; skipped this round", self.name)
                return None
            result = await self.sweep(uow)
            await uow.commit()
        return result

    async def sweep(self, uow: UnitOfWork) -> Any:
        """What one run does, in ``uow`` (the runner commits)."""
        raise NotImplementedError
