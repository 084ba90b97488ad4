"""The school's tasks: its steps in transfers out (转出学校核办), on its approval desk.

The desk (``components/approval_desk``) lists, long-polls, decides and bulk-decides them as it
does every party's; these routes are the school's paths and its view of a task (the student,
the receiving school, the roster status, the proofs' links). The same desk keeps the approvals
of the roster's exports, owned by the approving county (listed by ``GET /api/v1/approvals``):
``/tasks/{task_id}`` and the decisions serve them too, shown as the desk's own task view.
Refusals are ``{"detail", "rule"}`` (404 ``task_not_found``, 409 ``task_already_decided``,
403 ``export_approver`` / ``export_four_eyes``); a decision is committed here, at the
request's boundary.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from components.approval_desk import http as desk_http
from components.approval_desk import queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus, is_overdue
from components.approval_desk.schemas import TaskListQuery, TaskPage, TaskRead, aware
from services.school.entrypoints.http import ObjectReader, ReaderOfSchool, SchoolDep, TodayDep
from services.school.entrypoints.schemas import (
    ProofLink,
    SchoolTaskPage,
    SchoolTaskRead,
    StepDecisionCreate,
    StepDecisionsCreate,
)
from shared.audit.recording import audited
from shared.db.types import SQL_INT_MAX
from shared.runtime import bulk
from shared.runtime.bulk import BulkOutcome
from shared.security.authz import OBJECT, Access, Reach, requires
from shared.security.principal import Role

# The school's approver decides its own steps.
ApproverOfObject = Annotated[Access, requires(Role.APPROVER, unit=OBJECT, reach=Reach.OWN)]


def build_router(desk: ApprovalDesk) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["transfers"])

    @router.get(
        "/schools/{school_code}/tasks",
        dependencies=[audited("list", "task"), ReaderOfSchool],
        response_model=SchoolTaskPage,
        summary="The school's tasks: its steps in transfers out (转出), oldest first",
    )
    async def list_tasks(
        request: Request,
        school: SchoolDep,
        status: TaskStatus | None = None,
        overdue: Annotated[bool, Query(description="only open tasks past their due date")] = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
        wait: bulk.Wait = 0.0,
    ) -> Response:
        """Each task with its due date (10 working days) and whether it is overdue today.

        With its ``ETag``; ``If-None-Match`` naming it answers 304 without a body (and without
        an audit entry: nothing is disclosed), and with ``wait`` only once the list changes (a
        long poll) or after ``wait`` seconds."""
        query = TaskListQuery(
            status=status,
            kind=TaskKind.TRANSFER_STEP,
            overdue=overdue,
            limit=limit,
            offset=offset,
            wait=wait,
        )
        unit = desk.unit(school.code)
        tag = request.headers.get("if-none-match")
        return bulk.answer(await queries.list_tasks_unless(desk, unit, query, tag, _page))

    @router.get(
        "/schools/{school_code}/progression-tasks",
        dependencies=[audited("list", "task"), ReaderOfSchool],
        response_model=TaskPage,
        summary="The school's steps in progressions (升学核办) of its graduates, oldest first",
    )
    async def list_progression_tasks(
        request: Request,
        school: SchoolDep,
        status: TaskStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
        wait: bulk.Wait = 0.0,
    ) -> Response:
        """One task per progression for the whole cohort (its students are the task's items,
        ``GET /api/v1/tasks/{task_id}``); decided like a transfer step. With its ``ETag`` and
        long poll as the transfer steps' list."""
        query = TaskListQuery(
            status=status, kind=TaskKind.PROGRESSION_STEP, limit=limit, offset=offset, wait=wait
        )
        tag = request.headers.get("if-none-match")
        return bulk.answer(
            await queries.list_tasks_unless(desk, desk.unit(school.code), query, tag)
        )

    @router.get(
        "/tasks/{task_id}",
        dependencies=[audited("read", "task")],
        response_model=SchoolTaskRead | TaskRead,
        summary="One task kept at the school: its transfer step, or an export's approval",
    )
    async def read_task(
        task_id: uuid.UUID, on: TodayDep, access: ObjectReader
    ) -> SchoolTaskRead | TaskRead:
        return await _read(desk, task_id, on, access)

    @router.post(
        "/tasks/decisions",
        dependencies=[audited("decide", "task")],
        response_model=BulkOutcome,
        summary="Decide several of the school's steps at once",
    )
    async def decide_tasks(body: StepDecisionsCreate, access: ApproverOfObject) -> BulkOutcome:
        """Each decision checked (the task's school must be the caller's own), applied and
        audited as ``POST /tasks/{task_id}/decision`` would, in one transaction with one audit
        entry per task. 200 with one outcome per task in the order asked: ``status`` 200 or the
        refusal it would have had alone (404 ``task_not_found``, 409 ``task_already_decided``)."""
        username = access.principal.username
        asked = [(item.task_id, _decision(item, username)) for item in body.decisions]
        return await desk_http.commit_decisions(desk, asked, access)

    @router.post(
        "/tasks/{task_id}/decision",
        dependencies=[audited("decide", "task")],
        response_model=SchoolTaskRead | TaskRead,
        summary="Decide the school's step of a transfer, or an export's approval",
    )
    async def decide_task(
        task_id: uuid.UUID, body: StepDecisionCreate, on: TodayDep, access: ApproverOfObject
    ) -> SchoolTaskRead | TaskRead:
        """Approve, or reject with a reason; national gets ``transfer.step_decided`` naming this
        school. 409 ``task_already_decided`` once decided or void. An export's approval is
        decided by its approving unit's approver, never the requester (403
        ``export_approver`` / ``export_four_eyes``); approving it produces the CSV."""
        decision = _decision(body, access.principal.username)
        await desk_http.commit_decision(desk, task_id, decision, access)
        return await _read(desk, task_id, on, access)

    return router


def _decision(body: StepDecisionCreate, decided_by: str) -> Decision:
    """The decision, recorded under the authenticated account (never a name from the body)."""
    return Decision(DecisionKind(body.decision), decided_by=decided_by, reason=body.reason)


async def _read(
    desk: ApprovalDesk, task_id: uuid.UUID, on: date, access: Access
) -> SchoolTaskRead | TaskRead:
    """The task in the view of its kind: the school's for its steps, the desk's otherwise."""
    visible = desk_http.visible(desk, access)
    row = await queries.get_task(desk, task_id, visible)
    if row.kind != TaskKind.TRANSFER_STEP:
        return await queries.read_task(desk, task_id, visible)
    return task_view(row, on)


def _page(
    desk: ApprovalDesk, rows: Sequence[Any], total: int, query: TaskListQuery, today: date
) -> SchoolTaskPage:
    items = [task_view(row, today) for row in rows]
    return SchoolTaskPage(items=items, total=total, limit=query.limit, offset=query.offset)


def task_view(row: Any, today: date) -> SchoolTaskRead:
    """A desk task as the sending school reads it."""
    details = row.details
    return SchoolTaskRead(
        task_id=row.task_id,
        school_code=row.unit.code,
        kind=row.kind,
        status=row.status,
        transfer_id=row.transfer_id,
        step_id=row.subject_id,
        student_number=details["student_number"],
        student=details["student"],
        roster_status=details.get("roster_status"),
        to_school=details["to_school"],
        reason=details["reason"],
        proofs=[ProofLink.model_validate(p) for p in details["proofs"]],
        opened_at=aware(row.opened_at),
        due_on=row.due_on,
        due_approximate=row.due_approximate,
        overdue=is_overdue(row.status, row.due_on, today),
        reminded_at=aware(row.reminded_at),
        decided_at=aware(row.decided_at),
        decided_by=row.decided_by,
        decision_reason=row.reason,
    )
