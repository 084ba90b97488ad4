"""A task a service runs in the background every ``interval`` seconds.

One loop for every periodic job (audit anchors, token revocations, national's sweeps): a run
that fails is logged and tried again at the next interval, never ending the loop; ``interval``
0 (or less) leaves the job off, as the tests do where they drive time themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``run`` every ``interval`` seconds, the first time at once if ``at_start``."""

    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[object]],
        interval: float,
        *,
        at_start: bool = False,
    ) -> None:
        self.name = name
        self.interval = interval
        self._run = run
        self._at_start = at_start
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        if not self._at_start:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self._run()
            except Exception:  # a database or broker hiccup: the next round tries again
                log.warning("%s failed; next try in %s s", self.name, self.interval, exc_info=True)
            await asyncio.sleep(self.interval)
