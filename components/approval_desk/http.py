"""The desk's HTTP API: a task, its proofs, the officer's decision (one or many).

Task lists are per unit and live in each service's router (``/api/v1/counties/{code}/tasks``,
``/api/v1/provinces/{code}/tasks``, ``/api/v1/schools/{code}/tasks``), calling
:func:`components.approval_desk.queries.list_tasks_unless`. A route that decides is the
boundary of its transaction: it opens the unit of work, hands it to the use case, commits.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Response

from components.approval_desk import decisions, queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision
from components.approval_desk.schemas import BulkDecisionCreate, DecisionCreate, TaskRead
from shared.audit.recording import audited
from shared.federation.config import UnitRef
from shared.runtime import bulk
from shared.runtime.app import ProofIndex
from shared.runtime.bulk import BulkOutcome
from shared.runtime.errors import DomainError
from shared.security.authz import OBJECT, READERS, Access, Reach, requires
from shared.security.principal import Role

# A task names its deciding unit: its staff and the levels above read it; its approvers
# decide it.
TaskReader = Annotated[Access, requires(*READERS, unit=OBJECT)]
TaskApprover = Annotated[Access, requires(Role.APPROVER, unit=OBJECT, reach=Reach.OWN)]


def task_router(desk: ApprovalDesk) -> APIRouter:
    """Routes on single tasks, for a service whose desk shows the desk's own task view."""
    router = APIRouter(prefix="/api/v1/tasks", tags=["registry authority"])

    @router.get(
        "/{task_id}",
        dependencies=[audited("read", "task")],
        response_model=TaskRead,
        summary="One approval task",
    )
    async def read_task(task_id: uuid.UUID, access: TaskReader) -> TaskRead:
        """The task with the items' basic info, the key-field change and its proofs' names."""
        return await queries.read_task(desk, task_id, visible(desk, access))

    @router.get(
        "/{task_id}/proofs/{index}",
        dependencies=[audited("read", "task_proof", object_id="task_id")],
        summary="Download one proof of a task",
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    async def read_proof(task_id: uuid.UUID, index: ProofIndex, access: TaskReader) -> Response:
        """The ``index``-th proof (as listed in the task) as the file the school sent."""
        proof = await queries.read_proof(desk, task_id, index, visible(desk, access))
        media_type = mimetypes.guess_type(proof.filename)[0] or "application/octet-stream"
        disposition = f"attachment; filename*=UTF-8''{quote(proof.filename)}"
        return Response(
            proof.content, media_type=media_type, headers={"Content-Disposition": disposition}
        )

    @router.post(
        "/decisions",
        dependencies=[audited("decide", "task")],
        response_model=BulkOutcome,
        summary="Decide several tasks at once",
    )
    async def decide_many(body: BulkDecisionCreate, access: TaskApprover) -> BulkOutcome:
        """An officer clearing a queue: each decision is checked (the task's unit must be the
        officer's own), applied and audited exactly as ``POST /tasks/{task_id}/decision``
        would, in one transaction with one audit entry per task. 200 with one outcome per
        task in the order asked: ``status`` 200 (decided) or the refusal it would have had
        alone (404 ``task_not_found``, 409 ``task_already_decided``, 422 with its rule); a
        refused task never holds back the others."""
        asked = [
            (item.task_id, item.to_domain(access.principal.username)) for item in body.decisions
        ]
        return await commit_decisions(desk, asked, access)

    @router.post(
        "/{task_id}/decision",
        dependencies=[audited("decide", "task")],
        response_model=TaskRead,
        summary="Decide a task",
    )
    async def decide(task_id: uuid.UUID, body: DecisionCreate, access: TaskApprover) -> TaskRead:
        """Approve (optionally rejecting some items of a batch) or reject with a reason.

        Approval sends the approved registrations (or the key-field or status change) to
        national;
        rejections go back to the school and its province. 409 if the task is decided.
        """
        await commit_decision(desk, task_id, body.to_domain(access.principal.username), access)
        return await queries.read_task(desk, task_id, visible(desk, access))

    return router


def visible(desk: ApprovalDesk, access: Access) -> decisions.Visible:
    """The deciding units this caller may see: hosted here, and within the route's reach."""

    def sees(unit: UnitRef) -> bool:
        return desk.hosts(unit) and access.may(unit)

    return sees


async def commit_decision(
    desk: ApprovalDesk, task_id: uuid.UUID, decision: Decision, access: Access
) -> None:
    """One officer's decision, committed here (the request is the boundary)."""
    async with desk.runtime.unit_of_work() as uow:
        await decisions.decide(desk, uow, task_id, decision, visible(desk, access))
        await uow.commit()


async def commit_decisions(
    desk: ApprovalDesk, asked: Sequence[tuple[uuid.UUID, Decision]], access: Access
) -> BulkOutcome:
    """Several decisions, committed together here; one outcome per item, in order."""
    async with desk.runtime.unit_of_work() as uow:
        done = await decisions.decide_many(desk, uow, asked, visible(desk, access))
        await uow.commit()
    results = [
        bulk.refused(task_id, result)
        if isinstance(result, DomainError)
        else bulk.ItemOutcome(
            task_id=task_id, status=200, task_status=result.status, decided_at=result.at
        )
        for (task_id, _), result in zip(asked, done, strict=True)
    ]
    return bulk.outcome(results)
