"""The county's own route: its officers' task list (the task routes are the desk's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from components.approval_desk import queries
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.schemas import TaskListQuery, TaskPage
from shared.audit.recording import audited
from shared.federation.config import Tier
from shared.runtime.app import require_hosted
from shared.runtime.bulk import answer
from shared.security.authz import READERS, PathUnit, requires


def build_router(desk: ApprovalDesk) -> APIRouter:
    router = APIRouter(prefix="/api/v1/counties", tags=["registry authority"])

    @router.get(
        "/{county_code}/tasks",
        dependencies=[
            audited("list", "task"),
            requires(*READERS, unit=PathUnit("county_code", Tier.COUNTY)),
        ],
        response_model=TaskPage,
        summary="A county's tasks",
    )
    async def list_tasks(
        county_code: str, query: Annotated[TaskListQuery, Query()], request: Request
    ) -> Response:
        """The county's approval tasks, oldest first or by due date (``order=due``); filter
        by status, kind and school.

        With its ``ETag``; ``If-None-Match`` naming it answers 304 without a body (and
        without an audit entry: nothing is disclosed), and with ``wait`` only once the list
        changes (a long poll) or after ``wait`` seconds."""
        require_hosted(desk.runtime, county_code, "county")
        tag = request.headers.get("if-none-match")
        unit = desk.unit(county_code)
        return answer(await queries.list_tasks_unless(desk, unit, query, tag))

    return router
