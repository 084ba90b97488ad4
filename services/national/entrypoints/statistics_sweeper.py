"""The periodic statistics run (decision 0039): a background task of the national runtime,
beside the deadline and suspension sweeps and on the same interval (0 turns it off; the tests
drive it with ``POST /api/v1/operations/statistics/rollup`` and ``…/early-warning``).

Each run rolls the headcount forward to ten minutes ago (the periods begun and ended since the
last run: a day's movements, never a recount) and judges last week's registrations and
departures of every school against its own history (N2025 art. 23); an alert is recorded once
per school, kind and week, so a second run or instance raises nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.national.entrypoints.periodic import PeriodicSweeper
from services.national.service_layer import statistics
from shared.messaging.uow import UnitOfWork

ROLLUP_LAG = timedelta(minutes=10)  # longer than any transaction writing the registry lasts


class StatisticsSweeper(PeriodicSweeper):
    name = "statistics"

    async def sweep(self, uow: UnitOfWork) -> dict[str, Any]:
        now = self._deps.clock.now()
        rolled = await statistics.roll_up(uow.session, now - ROLLUP_LAG, now)
        today = self._deps.clock.today()
        last_week = today - timedelta(days=today.weekday() + 7)
        federation = self._deps.rulebook.federation
        raised = await statistics.scan_warnings(uow.session, federation, last_week, now)
        return {"rollup": rolled, "alerts": len(raised)}
