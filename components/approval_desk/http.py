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
from dataclasses import replace
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from components.approval_desk import decisions, queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision, TaskKind, TaskStatus
from components.approval_desk.schemas import (
    BulkDecisionCreate,
    DecisionCreate,
    TaskListQuery,
    TaskPage,
    TaskRead,
)
from shared.audit.recording import audited
from shared.db.types import SQL_INT_MAX
from shared.federation.config import UnitRef
from shared.runtime import bulk
from shared.runtime.app import ProofIndex
from shared.runtime.bulk import BulkOutcome
from shared.runtime.errors import DomainError
from shared.security.authz import (
    OBJECT,
    READERS,
    Access,
    QueryUnit,
    Reach,
    principal_unit,
    requires,
)
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


def approvals_router(desk: ApprovalDesk) -> APIRouter:
    """The task list of an approving unit whose tasks are kept on this service although the
    unit is not hosted here: an export's approver (a county for a school's roster, a province
    for its archives, any unit for the registry at national), since the export's task stays
    where the data is (decision 0011). Its tasks are decided through ``/api/v1/tasks``."""
    router = APIRouter(prefix="/api/v1/approvals", tags=["exports"])

    @router.get(
        "",
        dependencies=[audited("list", "task"), requires(*READERS, unit=QueryUnit("unit"))],
        response_model=TaskPage,
        summary="An approving unit's export approvals kept on this service",
    )
    async def list_approvals(
        request: Request,
        unit: Annotated[str, Query(description="the approving unit, e.g. county:410102")],
        status: TaskStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
        wait: bulk.Wait = 0.0,
    ) -> Response:
        """The unit's export approvals (导出审批) waiting or decided here, oldest first; filter
        by status. With its ``ETag``; ``If-None-Match`` naming it answers 304 without a body
        (and without an audit entry), and with ``wait`` only once the list changes (a long
        poll) or after ``wait`` seconds. 404 ``unit_not_visible`` for a unit that is not the
        caller's own or one under it."""
        query = TaskListQuery(
            status=status, kind=TaskKind.EXPORT_APPROVAL, limit=limit, offset=offset, wait=wait
        )
        tag = request.headers.get("if-none-match")
        approver = UnitRef.parse(unit)
        return bulk.answer(await queries.list_tasks_unless(desk, approver, query, tag))

    return router


def visible(desk: ApprovalDesk, access: Access) -> decisions.Visible:
    """The deciding units this caller may see: kept here, and within the route's reach."""

    def sees(unit: UnitRef) -> bool:
        return desk.keeps(unit) and access.may(unit)

    return sees


def by_officer(decision: Decision, access: Access) -> Decision:
    """``decision`` naming the authenticated officer's unit and roles (a kind's policy may
    check them: an export's approver)."""
    principal = access.principal
    roles = frozenset(str(role) for role in principal.roles)
    return replace(decision, unit=str(principal_unit(principal)), roles=roles)


async def commit_decision(
    desk: ApprovalDesk, task_id: uuid.UUID, decision: Decision, access: Access
) -> None:
    """One officer's decision, committed here (the request is the boundary)."""
    async with desk.runtime.unit_of_work() as uow:
        officer = by_officer(decision, access)
        await decisions.decide(desk, uow, task_id, officer, visible(desk, access))
        await uow.commit()


async def commit_decisions(
    desk: ApprovalDesk, asked: Sequence[tuple[uuid.UUID, Decision]], access: Access
) -> BulkOutcome:
    """Several decisions, committed together here; one outcome per item, in order."""
    officer = [(task_id, by_officer(decision, access)) for task_id, decision in asked]
    async with desk.runtime.unit_of_work() as uow:
        done = await decisions.decide_many(desk, uow, officer, visible(desk, access))
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
