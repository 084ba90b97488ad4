"""``xueji_transfers_ended_total{outcome}``: the saga counts each transfer that ended, once,
when the transaction that ended it commits (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from services.national.service_layer.transfers import metrics as transfer_metrics
from shared.db.engine import SessionFactory
from shared.telemetry.metrics import ServiceMetrics
from tests.services.national.builders import (
    SCHOOL,
    NationalDriver,
    enrol,
    of_type,
    transfer_request,
)
from tests.services.national.service_layer.test_transfers import approve_all


def ended(metrics: ServiceMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("xueji_transfers_ended_total", {"outcome": outcome})
    return value or 0.0


def counting(sessions: SessionFactory) -> ServiceMetrics:
    metrics = ServiceMetrics(process_metrics=False)
    metrics.count_commits_of(sessions)
    transfer_metrics.declare(metrics)
    return metrics


async def test_completed_rejected_and_refused_transfers_count_once_each(
    national: NationalDriver, sessions: SessionFactory
) -> None:
    metrics = counting(sessions)
    completed = await enrol(national)
    await approve_all(national, await national.request(transfer_request(completed)))
    rejected = await enrol(national, name="李娜")
    opened = of_type(await national.request(transfer_request(rejected)), "transfer.step_opened")
    await national.decide(opened[0], approve=False, reason="no place in grade 1")
    await national.request(transfer_request(completed, SCHOOL, SCHOOL))  # not registered there

    assert (ended(metrics, "completed"), ended(metrics, "rejected")) == (1, 1)
    assert ended(metrics, "refused") == 1
    # the same request again is answered already: nothing more ends
    again = transfer_request(rejected)
    await national.request(again)
    await national.request(again)
    assert [ended(metrics, o) for o in ("completed", "rejected", "refused")] == [1, 1, 1]


async def test_a_transfer_whose_transaction_rolls_back_is_not_counted(
    national: NationalDriver, sessions: SessionFactory
) -> None:
    metrics = counting(sessions)
    number = await enrol(national)
    request = transfer_request(number, SCHOOL, SCHOOL)

    async with sessions() as session:
        await session.begin()
        transfer_metrics.ended(session, "refused")
        await session.execute(text("SELECT 1"))
        await session.rollback()
    assert ended(metrics, "refused") == 0

    await national.request(request)
    assert ended(metrics, "refused") == 1
