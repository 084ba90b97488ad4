"""The authority's gauge: open and overdue tasks per hosted unit, computed at each scrape."""

from __future__ import annotations

from components.approval_desk.role import RegistryAuthority
from shared.telemetry.metrics import LabelValues

TASKS_GAUGE = "xueji_authority_tasks"


def register_task_gauge(authority: RegistryAuthority) -> None:
    """``xueji_authority_tasks{unit, state=open|overdue}`` (overdue: past due, Beijing today)."""

    async def counts() -> dict[LabelValues, float]:
        units = list(authority.runtime.instance.units)
        values: dict[LabelValues, float] = {}
        for code in units:
            values[(str(authority.unit(code)), "open")] = 0
            values[(str(authority.unit(code)), "overdue")] = 0
        async with authority.runtime.sessions() as session:
            rows = await authority.tasks(session).open_counts(units, authority.today())
        for row in rows:
            unit = str(authority.unit(row.authority_unit))
            values[(unit, "open")] = row.open
            values[(unit, "overdue")] = row.overdue or 0
        return values

    authority.runtime.metrics.register_gauge_callback(
        TASKS_GAUGE, "Open and overdue tasks per unit", ["unit", "state"], counts
    )
