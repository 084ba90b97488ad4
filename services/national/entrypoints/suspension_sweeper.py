"""The periodic suspension sweep: a background task of the national runtime, beside the
transfer deadline sweep and on the same interval (``deadline_sweep_interval``; 0 turns both
off, as the tests do, which drive time with ``POST /api/v1/operations/suspension-sweep``).

Each run lapses the suspensions over before today (Beijing) where the province's rules say so
(LS 2(二)3). A lapse's id is derived from the student and the suspension's end, and the
suspension row is gone once it lapsed, so a second run (or a second instance) sends nothing
twice; a run that collides with another fails, is logged and retried at the next interval.
"""

from __future__ import annotations

from services.national.entrypoints.periodic import PeriodicSweeper
from services.national.service_layer.status_changes import SuspensionSweep, sweep_suspensions
from shared.federation.config import NATIONAL
from shared.messaging.uow import UnitOfWork


class SuspensionSweeper(PeriodicSweeper):
    name = "suspension-sweep"

    async def sweep(self, uow: UnitOfWork) -> SuspensionSweep:
        """One sweep for today."""
        return await sweep_suspensions(
            uow.session,
            uow.emitter(NATIONAL),
            self._deps.rulebook,
            self._deps.clock.today(),
            self._deps.clock.now(),
        )
