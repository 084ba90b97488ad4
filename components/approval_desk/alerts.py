"""Early warnings at the school's authority (异常预警, N2025 art. 23; decision 0047): national
judges each school's week of registrations and departures against its own previous weeks and
sends each alert, once, to the school's registry authority, where it becomes one
``statistics_alert`` task with the figures (the week, the count, the weeks' mean and standard
deviation, the threshold). The officer acknowledges it with a note (approve); nothing else
waits on the decision.
"""

from __future__ import annotations

import logging

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.intake import governed_school, task_row
from shared.contracts.statistics import AlertRaised
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)


async def receive_alert(desk: ApprovalDesk, ctx: HandlerContext, alert: AlertRaised) -> None:
    """national → authority: one task per alert (a re-delivered alert opens none)."""
    school = governed_school(desk, ctx.unit, alert.school_code)
    tasks = desk.tasks(ctx.session)
    kind = TaskKind.STATISTICS_ALERT
    if await tasks.find_subject(ctx.unit, kind, alert.alert_id):
        log.info("alert %s already has a task at %s; ignored", alert.alert_id, ctx.unit)
        return
    details = alert.model_dump(mode="json", exclude={"alert_id", "school_code"})
    task = task_row(desk, ctx, kind, school, alert.alert_id, alert.observed, 1, details)
    await tasks.add(task)
    log.info(
        "alert %s (%s, week of %s) of school %s at %s: task opened",
        alert.alert_id,
        alert.kind,
        alert.week_start,
        school.code,
        ctx.unit,
    )
