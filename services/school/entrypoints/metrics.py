"""The school's gauge: open and overdue transfer tasks per hosted school, at each scrape."""

from __future__ import annotations

from services.school.adapters import transfer_repository
from shared.runtime.service import ServiceRuntime
from shared.telemetry.metrics import LabelValues

TASKS_GAUGE = "xueji_school_tasks"


def register_task_gauge(runtime: ServiceRuntime) -> None:
    """``xueji_school_tasks{unit, state=open|overdue}`` (overdue: past due, Beijing today)."""

    async def counts() -> dict[LabelValues, float]:
        units = [str(unit) for unit in runtime.units]
        values: dict[LabelValues, float] = {}
        for unit in units:
            values[(unit, "open")] = 0
            values[(unit, "overdue")] = 0
        async with runtime.sessions() as session:
            rows = await transfer_repository.open_task_counts(
                session, list(runtime.instance.units), runtime.clock.today()
            )
        for row in rows:
            unit = f"school:{row.school_code}"
            values[(unit, "open")] = row.open
            values[(unit, "overdue")] = row.overdue or 0
        return values

    runtime.metrics.register_gauge_callback(
        TASKS_GAUGE, "Open and overdue tasks per unit", ["unit", "state"], counts
    )
