"""The saga's counter: transfers that ended, by outcome, counted when their transaction commits.

``xueji_transfers_ended_total{outcome=completed|rejected|cancelled|stopped|refused}`` moves
only when the transaction that ended the transfer commits (a message retried after a rollback
is not counted twice). It counts per process since its start, as Prometheus counters do:
dashboards read ``increase``/``rate`` of it, summed over national's replicas.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.telemetry.metrics import ServiceMetrics, count_on_commit

TRANSFERS_ENDED = "xueji_transfers_ended"


def declare(metrics: ServiceMetrics) -> None:
    metrics.committed_counter(
        TRANSFERS_ENDED, "Transfers that ended, by outcome (counted at commit)", ["outcome"]
    )


def ended(session: AsyncSession, outcome: str) -> None:
    """Count one transfer ended with ``outcome`` once ``session`` commits."""
    count_on_commit(session, TRANSFERS_ENDED, outcome)
