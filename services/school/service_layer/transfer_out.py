"""The sending school's side of a transfer (转出): its step, and the student leaving —
N2013 art. 14, HA art. 11(二)(三), ZJ art. 13.

National opens the sending school's step (``transfer.step_opened``, role ``sending_school``):
it becomes a ``transfer_step`` task on the school's approval desk (``components/approval_desk``:
the student's summary, the receiving school, the family's reason, links to the proofs at the
receiving school, the due date of 10 working days), and the decision goes back to national as
``transfer.step_decided``, as for every deciding party. What the school adds is its policy for
the kind (:class:`SendingSchoolSteps`): the task shows the student's status on the school's
roster when the step opened, so the registrar sees at once whether the student is still
enrolled here. When the transfer completes, the student's roster entry here becomes
``transferred_out`` and leaves the live roster (decision 0043): the school's history list
shows who left, to where and when; the read-only backup is the province's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from components.approval_desk import transfers as desk_transfers
from components.approval_desk.desk import ApprovalDesk, KindPolicy
from services.school.adapters import departures
from services.school.adapters import transfer_repository as transfers
from services.school.domain.students import StudentStatus
from shared.clock import CHINA
from shared.contracts.transfer import TransferCompleted, TransferStepOpened
from shared.messaging.envelope import Contract
from shared.messaging.handlers import HandlerContext

log = logging.getLogger(__name__)

COMPLETED_REASON = "transfer completed: the step was decided by the superior"


class SendingSchoolSteps(KindPolicy):
    """The school's policy for its transfer steps: the roster status it reads when a step
    opens. The registrar decides; nothing is decided at once."""

    async def facts(self, ctx: HandlerContext, opened: Contract) -> Mapping[str, Any]:
        assert isinstance(opened, TransferStepOpened)
        status = await transfers.roster_status(ctx.session, ctx.unit.code, opened.student_number)
        return {"roster_status": status}

    async def facts_many(
        self, contexts: Sequence[HandlerContext], opened: Sequence[Contract]
    ) -> list[Mapping[str, Any]]:
        """The run's roster statuses in one read (its schools may be several)."""
        keys = [_roster_key(ctx, step) for ctx, step in zip(contexts, opened, strict=True)]
        if not keys:
            return []
        found = await transfers.roster_statuses(contexts[0].session, keys)
        return [{"roster_status": found.get(key)} for key in keys]


def _roster_key(ctx: HandlerContext, opened: Contract) -> tuple[str, str]:
    assert isinstance(opened, TransferStepOpened)
    return ctx.unit.code, opened.student_number


async def leave_many(
    desk: ApprovalDesk, departing: Sequence[tuple[HandlerContext, TransferCompleted]]
) -> None:
    """The students left for their receiving schools (each context a sending school of the
    run): their roster entries are ``transferred_out``, each listed in the history with its
    own transfer, destination and date. A task still open here (the county decided in the
    school's place) has nothing left to decide: it is void. Three statements whatever the
    run's length; a student may appear once per school."""
    if not departing:
        return
    leavings = [
        departures.Leaving(
            school_code=ctx.unit.code,
            student_numbers=[completed.student_number],
            kind=departures.TRANSFER,
            subject_id=str(completed.transfer_id),
            to_school=completed.to_school,
            left_on=completed.completed_at.astimezone(CHINA).date(),
        )
        for ctx, completed in departing
    ]
    session = departing[0][0].session
    left = await departures.leave_many(session, leavings, StudentStatus.TRANSFERRED_OUT, desk.now())
    for ctx, completed in departing:
        if (ctx.unit.code, completed.student_number) not in left:
            log.info(
                "transfer %s: no enrolled roster entry at %s", completed.transfer_id, ctx.unit.code
            )
    voids = [(ctx, completed.transfer_id) for ctx, completed in departing]
    await desk_transfers.void_transfers(desk, voids, COMPLETED_REASON)
