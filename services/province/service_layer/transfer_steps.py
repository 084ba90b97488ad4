"""The province's own steps in a transfer (``TransferRules.own_steps``).

- ``sending_province`` is decided by the system at once: only the province holds discipline
  records, and where the **sending** province's rules say ``refuse_under_discipline`` (Henan:
  "学生休学期间以及受处分期间不予转学", HA art. 11(四)) a student with a discipline record in
  force in the archive is refused (rule ``under_discipline``; the reason names the article,
  never the record). Otherwise the step is approved.
- ``receiving_province`` waits for a province officer in the task list.

The step is still a task on the province's approval desk, decided by ``system``, so the province can
show what it decided and why. The reason travels to national and on to the schools: it never
carries the record itself (personal data).
"""

from __future__ import annotations

from datetime import date

from components.approval_desk.desk import StepPolicy
from components.approval_desk.domain import SYSTEM, Decision, DecisionKind
from services.province.adapters.repository import ArchiveRepository
from services.province.domain.archive import discipline_in_force
from shared.contracts.transfer import TransferStepOpened
from shared.messaging.handlers import HandlerContext
from shared.rules import load_province_rules
from shared.runtime.service import ServiceRuntime

UNDER_DISCIPLINE = "under_discipline"
DISCIPLINE_ARTICLE = "HA art. 11(四)"


def province_step_policy(runtime: ServiceRuntime) -> StepPolicy:
    """The transfer-step policy the province plugs into its approval desk."""

    async def policy(ctx: HandlerContext, step: TransferStepOpened) -> Decision | None:
        if step.role != "sending_province":
            return None  # the province's other steps wait for an officer
        rules = load_province_rules(runtime.settings.federation_config, ctx.unit.code)
        if not rules.transfer.refuse_under_discipline:
            return Decision(
                DecisionKind.APPROVE,
                SYSTEM,
                reason="the province does not refuse transfers under discipline",
            )
        today = runtime.clock.today()
        if await under_discipline(ctx, step.student_number, today):
            return Decision(
                DecisionKind.REJECT,
                SYSTEM,
                reason=f"the student is under discipline (a record in force, not lifted): no "
                f"transfer during discipline ({DISCIPLINE_ARTICLE}: 受处分期间不予转学)",
                rule=UNDER_DISCIPLINE,
            )
        return Decision(
            DecisionKind.APPROVE,
            SYSTEM,
            reason=f"no discipline record in force ({DISCIPLINE_ARTICLE} checked)",
        )

    return policy


async def under_discipline(ctx: HandlerContext, student_number: str, today: date) -> bool:
    """Whether the student's archive here holds a discipline record in force today."""
    archives = ArchiveRepository(ctx.session, ctx.unit.code)
    archive = await archives.active(student_number)
    if archive is None:
        return False
    return bool(discipline_in_force(await archives.discipline_entries(archive.archive_id), today))
