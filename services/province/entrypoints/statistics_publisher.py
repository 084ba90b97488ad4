"""The province's periodic statistics run (decision 0047): once yesterday is over, each hosted
province sends each of its counties the non-basic figures of its schools
(``statistics.county_extended``), once per day (``statistics_published``).

Replicas of a province instance each run it; a run first takes the run's lease
(:mod:`shared.db.lease`), and a replica that does not get it skips the round. The run is the
transaction boundary: one unit of work, committed when it returned. Operators send a day again
with ``POST /api/v1/provinces/{code}/operations/statistics/publish`` (the counties replace).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from components.received_statistics.published import mark_published, was_published
from services.province.adapters.orm import statistics_published
from services.province.service_layer.statistics import ExtendedPublished, publish_counties
from shared.db.lease import try_lease
from shared.federation.config import Tier, UnitRef
from shared.messaging.uow import UnitOfWork
from shared.runtime.periodic import Periodic
from shared.runtime.service import ServiceRuntime

log = logging.getLogger(__name__)


class StatisticsPublisher:
    name = "province-statistics"

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        interval = runtime.settings.statistics_publish_interval
        self._periodic = Periodic(self.name, self.run_once, interval, at_start=True)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self) -> list[ExtendedPublished] | None:
        """Yesterday's figures of every hosted province not sent yet; None when another
        replica holds the lease."""
        runtime = self._runtime
        today = runtime.clock.today()
        yesterday = today - timedelta(days=1)
        sent: list[ExtendedPublished] = []
        async with UnitOfWork(runtime.sessions) as uow:
            if not await try_lease(uow.session, self.name):
                log.info("%s: another replica is publishing; skipped this round", self.name)
                return None
            for unit in runtime.units:
                if unit.tier != Tier.PROVINCE:
                    continue
                if await was_published(uow.session, statistics_published, str(unit), yesterday):
                    continue
                sent.append(await publish(uow, runtime, unit, yesterday))
            await uow.commit()
        return sent


async def publish(
    uow: UnitOfWork, runtime: ServiceRuntime, province: UnitRef, period: Any
) -> ExtendedPublished:
    """Send ``province``'s counties their figures for ``period`` and mark it sent."""
    now = runtime.clock.now()
    report = await publish_counties(
        uow.session,
        uow.emitter(province),
        runtime.federation,
        province.code,
        period,
        runtime.clock.today(),
        now,
    )
    await mark_published(
        uow.session, statistics_published, str(province), period, report.counties, now
    )
    log.info("%s: figures of %s sent to %d counties", province, period, report.counties)
    return report
