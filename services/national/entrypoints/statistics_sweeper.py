"""The periodic statistics run (decisions 0039, 0047): a background task of the national
runtime, beside the deadline and suspension sweeps and on the same interval (0 turns it off;
the tests drive it with ``POST /api/v1/operations/statistics/rollup``, ``…/early-warning`` and
``…/publish``).

Each run rolls the headcount forward to ten minutes ago (the periods begun and ended since the
last run: a day's movements, never a recount), judges last week's registrations and departures
of every school against its own history (N2025 art. 23) — an alert is recorded once per
school, kind and week and sent once to the school's authority — and, once yesterday is over
(ten minutes after Beijing midnight), sends every county and province its figures of
yesterday, once (``statistics_published``). The runner's lease keeps replicas from running it
twice at once; a run repeated anyway raises and sends nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from components.received_statistics.published import mark_published, was_published
from services.national.adapters.orm import statistics_published
from services.national.entrypoints.periodic import PeriodicSweeper
from services.national.service_layer import statistics
from services.national.service_layer.statistics_publication import PUBLISHER, publish_day
from shared.federation.config import NATIONAL
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
        emit = uow.emitter(NATIONAL)
        raised = await statistics.scan_warnings(uow.session, federation, last_week, now, emit)
        result: dict[str, Any] = {"rollup": rolled, "alerts": len(raised)}
        yesterday = today - timedelta(days=1)
        due = now >= statistics.end_of_day(yesterday) + ROLLUP_LAG
        if due and not await was_published(uow.session, statistics_published, PUBLISHER, yesterday):
            sent = await publish_day(uow.session, emit, federation, yesterday, now)
            await mark_published(
                uow.session, statistics_published, PUBLISHER, yesterday,
                sent.counties + sent.provinces, now,
            )  # fmt: skip
            result["published"] = sent
        return result
