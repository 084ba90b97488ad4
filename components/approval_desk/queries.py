"""Reading tasks: a unit's task list (conditional, long-polled), one task, one proof.

The list and the task are shaped by the caller's *view* (a function of the rows): the desk's
own :class:`~components.approval_desk.schemas.TaskPage` for authorities, the sending school's
transfer-step page for schools. The query, its filters, the ETag, the 304 and the long poll
are the same for every unit (decisions 0017, 0020).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk import schemas
from components.approval_desk.decisions import Visible
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import ITEM_PROOFS, TaskKind
from components.approval_desk.repository import TASK_LIST, TaskRepository
from shared.audit.recording import annotate
from shared.federation.config import UnitRef
from shared.runtime.bulk import Conditional, conditional_page
from shared.runtime.errors import NotFound

log = logging.getLogger(__name__)

# A page as the caller shows it: (the desk, the rows, how many match, the query, today).
PageView = Callable[[ApprovalDesk, Sequence[Any], int, schemas.TaskListQuery, date], BaseModel]


@dataclass(frozen=True)
class ProofFile:
    filename: str
    content: bytes


def task_page(
    desk: ApprovalDesk,
    rows: Sequence[Any],
    total: int,
    query: schemas.TaskListQuery,
    today: date,
) -> schemas.TaskPage:
    """The desk's own page of task summaries."""
    return schemas.TaskPage(
        items=[summary(desk, row, today) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


async def list_tasks(
    desk: ApprovalDesk,
    unit: UnitRef,
    query: schemas.TaskListQuery,
    view: PageView = task_page,
) -> BaseModel:
    """A hosted unit's tasks, oldest first (the caller has checked the unit is hosted), with
    due dates and overdue flags as of today (Beijing)."""
    async with desk.runtime.sessions() as session:
        return await _page(desk, session, unit, query, desk.today(), view)


async def list_tasks_unless(
    desk: ApprovalDesk,
    unit: UnitRef,
    query: schemas.TaskListQuery,
    if_none_match: str | None,
    view: PageView = task_page,
) -> Conditional:
    """:func:`list_tasks` for a client polling with ``If-None-Match``: no page (a 304) while
    the unit's task list has the version its ETag names; with ``query.wait``, answered once
    the list changes or after that many seconds (decision 0020)."""
    today = desk.today()
    variant = {**query.model_dump(mode="json", exclude={"wait"}), "today": today.isoformat()}

    async def page(session: AsyncSession) -> BaseModel:
        return await _page(desk, session, unit, query, today, view)

    return await conditional_page(
        desk.runtime.lists, TASK_LIST, str(unit), variant, if_none_match, page, query.wait
    )


async def _page(
    desk: ApprovalDesk,
    session: AsyncSession,
    unit: UnitRef,
    query: schemas.TaskListQuery,
    today: date,
    view: PageView,
) -> BaseModel:
    rows, total = await desk.tasks(session).page(
        unit,
        status=query.status,
        kind=query.kind,
        limit=query.limit,
        offset=query.offset,
        overdue_on=today if query.overdue else None,
        school_code=query.school,
        by_due=query.order == "due",
    )
    return view(desk, rows, total, query, today)


async def get_task(desk: ApprovalDesk, task_id: uuid.UUID, visible: Visible | None = None) -> Any:
    """The row of a task of a hosted unit (that ``visible`` lets through); 404 otherwise."""
    async with desk.runtime.sessions() as session:
        return await _hosted_task(desk, desk.tasks(session), task_id, visible)


async def read_task(
    desk: ApprovalDesk, task_id: uuid.UUID, visible: Visible | None = None
) -> schemas.TaskRead:
    """A task of a hosted unit (that ``visible`` lets through) with its items, key-field
    change and proofs; 404 otherwise."""
    async with desk.runtime.sessions() as session:
        tasks = desk.tasks(session)
        row = await _hosted_task(desk, tasks, task_id, visible)
        items = await tasks.items(task_id)
        proofs = await tasks.proofs(task_id)
    # Who reads which registration data is accountable (ZJ art. 30): log the access.
    log.info("task %s read at %s", task_id, row.unit)
    is_change = row.kind == TaskKind.KEY_FIELD_CHANGE
    change = schemas.key_field_change(row.details) if is_change else None
    item_proofs: dict[str, list[int]] = row.details.get(ITEM_PROOFS, {})
    return schemas.TaskRead(
        **summary(desk, row, desk.today()).model_dump(),
        items=[schemas.item(i, item_proofs.get(str(i.registration_id), ())) for i in items],
        key_field_change=change,
        proofs=[schemas.proof(p) for p in proofs],
        transfer=schemas.transfer(row),
        progression=schemas.progression(row),
        status_change=schemas.status_change(row),
        graduation=schemas.graduation(row),
        verification=schemas.verification(row),
        filing=schemas.filing(row),
        duplicate=schemas.duplicate(row),
        alert=schemas.alert(row),
    )


async def read_proof(
    desk: ApprovalDesk, task_id: uuid.UUID, index: int, visible: Visible | None = None
) -> ProofFile:
    async with desk.runtime.sessions() as session:
        tasks = desk.tasks(session)
        await _hosted_task(desk, tasks, task_id, visible)
        row = await tasks.proof(task_id, index)
    if row is None:
        raise NotFound(f"task {task_id} has no proof {index}", rule="proof_not_found")
    log.info("proof %d of task %s downloaded", index, task_id)
    return ProofFile(filename=row.filename, content=row.content)


async def _hosted_task(
    desk: ApprovalDesk, tasks: TaskRepository, task_id: uuid.UUID, visible: Visible | None
) -> Any:
    row = await tasks.get(task_id)
    if row is None or not (visible or desk.keeps)(row.unit):
        raise NotFound(f"task {task_id} not found", rule="task_not_found")
    annotate(unit_kind=row.unit.tier, unit_code=row.unit.code)
    return row


def summary(desk: ApprovalDesk, row: Any, today: date) -> schemas.TaskSummary:
    school = desk.school(row.school_code) if row.school_code else None
    return schemas.summary(row, school.name if school else None, today)
