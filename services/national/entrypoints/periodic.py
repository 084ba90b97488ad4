"""A sweep national runs in the background: once at start, then every ``interval`` seconds.

The runner is the periodic tasks' transaction boundary: each run is one unit of work it
commits once the sweep returned (a sweep, like every use case, never commits). A failed run
rolls back, is logged and retried at the next interval; ``interval`` 0 turns it off (the
tests drive time through the operations endpoints instead). Subclasses say what one run is
(:meth:`PeriodicSweeper.sweep`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from services.national.service_layer.transfers.context import TransferDeps
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)


class PeriodicSweeper:
    name = "sweep"

    def __init__(self, sessions: SessionFactory, deps: TransferDeps, interval: float) -> None:
        self._sessions = sessions
        self._deps = deps
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep_once(self) -> Any:
        """One run, in one transaction committed when the sweep returned."""
        async with UnitOfWork(self._sessions) as uow:
            result = await self.sweep(uow)
            await uow.commit()
        return result

    async def sweep(self, uow: UnitOfWork) -> Any:
        """What one run does, in ``uow`` (the runner commits)."""
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("%s failed; next try in %s s", self.name, self.interval)
            await asyncio.sleep(self.interval)
