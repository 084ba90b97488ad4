"""The desk's gauge: open and overdue tasks per deciding unit and kind, at each scrape."""

from __future__ import annotations

from components.approval_desk.desk import ApprovalDesk
from shared.telemetry.metrics import LabelValues

TASKS_GAUGE = "xueji_desk_tasks"


def register_task_gauge(desk: ApprovalDesk) -> None:
    """``xueji_desk_tasks{unit, kind, state=open|overdue}`` (overdue: past due, Beijing
    today), one query per scrape; every hosted unit shows every kind the desk decides, at 0
    when nothing waits."""

    async def counts() -> dict[LabelValues, float]:
        units = [desk.unit(code) for code in desk.runtime.instance.units]
        values: dict[LabelValues, float] = {}
        for unit in units:
            for kind in desk.kinds:
                values[(str(unit), str(kind), "open")] = 0
                values[(str(unit), str(kind), "overdue")] = 0
        async with desk.runtime.sessions() as session:
            rows = await desk.tasks(session).open_counts(units, desk.today())
        for row in rows:
            values[(str(row.unit), row.kind, "open")] = row.open
            values[(str(row.unit), row.kind, "overdue")] = row.overdue or 0
        return values

    desk.runtime.metrics.register_gauge_callback(
        TASKS_GAUGE,
        "Open and overdue tasks per deciding unit and kind",
        ["unit", "kind", "state"],
        counts,
    )
