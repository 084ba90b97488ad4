"""The province's HTTP API: its officers' task list (province-direct schools) and archives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.province.entrypoints.schemas import ArchiveRead
from services.province.service_layer import archive_queries
from shared.authority import queries
from shared.authority.role import RegistryAuthority
from shared.authority.schemas import TaskListQuery, TaskPage
from shared.runtime.app import require_hosted


def build_router(authority: RegistryAuthority) -> APIRouter:
    runtime = authority.runtime
    router = APIRouter(prefix="/api/v1/provinces")

    @router.get(
        "/{province_code}/tasks",
        response_model=TaskPage,
        tags=["registry authority"],
        summary="A province's tasks",
    )
    async def list_tasks(province_code: str, query: Annotated[TaskListQuery, Query()]) -> TaskPage:
        """Approval tasks of the province's direct schools, oldest first; filter by status
        and kind."""
        require_hosted(runtime, province_code, "province")
        return await queries.list_tasks(authority, province_code, query)

    @router.get(
        "/{province_code}/archives/{student_number}",
        response_model=ArchiveRead,
        tags=["archive"],
        summary="A student's archive",
    )
    async def read_archive(province_code: str, student_number: str) -> ArchiveRead:
        """The archive of a student of this province, by student number (404 otherwise)."""
        require_hosted(runtime, province_code, "province")
        record = await archive_queries.read_archive(runtime.sessions, province_code, student_number)
        return ArchiveRead.of(record.archive, record.entries)

    return router
