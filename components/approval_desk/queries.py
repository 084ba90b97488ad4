"""Reading tasks: the officer's task list, one task with its items, one proof."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk import schemas
from components.approval_desk.domain import TaskKind
from components.approval_desk.repository import TASK_LIST, TaskRepository
from components.approval_desk.role import RegistryAuthority
from shared.audit.recording import annotate
from shared.runtime.bulk import Conditional, conditional_page
from shared.runtime.errors import NotFound

log = logging.getLogger(__name__)

# Which authority units the caller may see (the hosted ones the principal reaches).
Visible = Callable[[str], bool]


@dataclass(frozen=True)
class ProofFile:
    filename: str
    content: bytes


async def list_tasks(
    authority: RegistryAuthority, unit_code: str, query: schemas.TaskListQuery
) -> schemas.TaskPage:
    """A hosted unit's tasks, oldest first (the caller has checked the unit is hosted), with
    due dates and overdue flags as of today (Beijing)."""
    async with authority.runtime.sessions() as session:
        return await _task_page(authority, session, unit_code, query, authority.today())


async def list_tasks_unless(
    authority: RegistryAuthority,
    unit_code: str,
    query: schemas.TaskListQuery,
    if_none_match: str | None,
) -> Conditional:
    """:func:`list_tasks` for a client polling with ``If-None-Match``: no page (a 304) while
    the unit's task list has the version its ETag names; with ``query.wait``, answered once
    the list changes or after that many seconds (decision 0020)."""
    today = authority.today()
    variant = {**query.model_dump(mode="json", exclude={"wait"}), "today": today.isoformat()}
    runtime = authority.runtime

    async def page(session: AsyncSession) -> schemas.TaskPage:
        return await _task_page(authority, session, unit_code, query, today)

    return await conditional_page(
        runtime.lists,
        TASK_LIST,
        unit_code,
        variant,
        if_none_match,
        page,
        query.wait,
    )


async def _task_page(
    authority: RegistryAuthority,
    session: AsyncSession,
    unit_code: str,
    query: schemas.TaskListQuery,
    today: date,
) -> schemas.TaskPage:
    rows, total = await authority.tasks(session).page(
        unit_code,
        status=query.status,
        kind=query.kind,
        limit=query.limit,
        offset=query.offset,
        overdue_on=today if query.overdue else None,
    )
    return schemas.TaskPage(
        items=[_summary(authority, row, today) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


async def read_task(
    authority: RegistryAuthority, task_id: str, visible: Visible | None = None
) -> schemas.TaskRead:
    """A task of a hosted unit (that ``visible`` lets through) with its items, key-field
    change and proofs; 404 otherwise."""
    async with authority.runtime.sessions() as session:
        tasks = authority.tasks(session)
        row = await _hosted_task(authority, tasks, task_id, visible)
        items = await tasks.items(task_id)
        proofs = await tasks.proofs(task_id)
    # Who reads which registration data is accountable (ZJ art. 30): log the access.
    log.info("task %s read at %s", task_id, row.authority_unit)
    is_change = row.kind == TaskKind.KEY_FIELD_CHANGE
    change = schemas.key_field_change(row.details) if is_change else None
    return schemas.TaskRead(
        **_summary(authority, row, authority.today()).model_dump(),
        items=[schemas.item(i) for i in items],
        key_field_change=change,
        proofs=[schemas.proof(p) for p in proofs],
        transfer=schemas.transfer(row),
        status_change=schemas.status_change(row),
        graduation=schemas.graduation(row),
        verification=schemas.verification(row),
        duplicate=schemas.duplicate(row),
    )


async def read_proof(
    authority: RegistryAuthority, task_id: str, index: int, visible: Visible | None = None
) -> ProofFile:
    async with authority.runtime.sessions() as session:
        tasks = authority.tasks(session)
        await _hosted_task(authority, tasks, task_id, visible)
        row = await tasks.proof(task_id, index)
    if row is None:
        raise NotFound(f"task {task_id} has no proof {index}", rule="proof_not_found")
    log.info("proof %d of task %s downloaded", index, task_id)
    return ProofFile(filename=row.filename, content=row.content)


async def _hosted_task(
    authority: RegistryAuthority, tasks: TaskRepository, task_id: str, visible: Visible | None
) -> Any:
    row = await tasks.get(task_id)
    if row is None or not (visible or authority.hosts)(row.authority_unit):
        raise NotFound(f"task {task_id} not found", rule="task_not_found")
    annotate(unit_kind=authority.runtime.tier, unit_code=row.authority_unit)
    return row


def _summary(authority: RegistryAuthority, row: Any, today: date) -> schemas.TaskSummary:
    school = authority.school(row.school_code)
    return schemas.summary(
        row, str(authority.unit(row.authority_unit)), school.name if school else None, today
    )
