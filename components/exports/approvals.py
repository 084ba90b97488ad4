"""The export approval as a kind of task on the approval desk (导出审批, N2013 art. 25).

An export request opens an ``export_approval`` task owned by the approving unit, in the desk
of the service that holds the data (:meth:`.service.Exports.request`). This policy is the
exports' say in that kind (decision 0022):

- :meth:`ExportApprovals.admit`, before the task is closed: only an approver of the approving
  unit decides, and never the requester (four eyes): 403 ``export_approver`` /
  ``export_four_eyes``;
- :meth:`ExportApprovals.decided`, in the deciding transaction: the export is approved (its
  CSV produced, where the data is) or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.desk import KindPolicy
from components.approval_desk.domain import Decision, Plan, TaskStatus
from components.exports.domain import ExportRefused, Unit, check_approver
from components.exports.service import Exports, Refused


@dataclass(frozen=True)
class ExportApprovals(KindPolicy):
    """The policy of ``export_approval`` tasks on one service's desk."""

    exports: Exports

    async def admit(self, session: AsyncSession, task: Any, decision: Decision) -> None:
        approver = Unit(str(task.unit.tier), task.unit.code)
        try:
            check_approver(
                decision.roles,
                decision.decided_by,
                Unit.parse(decision.unit or ""),
                approver,
                task.details["requested_by"],
            )
        except ExportRefused as refused:
            raise Refused(refused) from None

    async def decided(
        self, session: AsyncSession, task: Any, plan: Plan, decision: Decision, at: datetime
    ) -> None:
        approved = plan.status is TaskStatus.APPROVED
        await self.exports.settle(session, task.subject_id, approved, decision, at)
