"""A sweep national runs in the background: once at start, then every ``interval`` seconds.

The runner is the periodic tasks' transaction boundary: each run is one unit of work it
commits once the sweep returned (a sweep, like every use case, never commits). A failed run
rolls back, is logged and retried at the next interval; ``interval`` 0 turns it off (the
tests drive time through the operations endpoints instead). Subclasses say what one run is
(:meth:`PeriodicSweeper.sweep`).
"""

from __future__ import annotations

from typing import Any

from services.national.service_layer.transfers.context import TransferDeps
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork
from shared.runtime.periodic import Periodic


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
        """One run, in one transaction committed when the sweep returned."""
        async with UnitOfWork(self._sessions) as uow:
            result = await self.sweep(uow)
            await uow.commit()
        return result

    async def sweep(self, uow: UnitOfWork) -> Any:
        """What one run does, in ``uow`` (the runner commits)."""
        raise NotImplementedError
