"""Acting on several objects in one request, and lists answered conditionally.

- A bulk request (e.g. ``POST /api/v1/tasks/decisions``) answers 200 with one outcome per
  item, in the order asked: ``status`` is the HTTP status the single request would have had
  (200, or 404/409/422 with its ``detail`` and ``rule``). A refused item never fails the
  others; the request as a whole is refused only when its body is invalid or the caller may
  not call the route at all.
- A list the client polls answers ``304 Not Modified`` to ``If-None-Match`` when its
  representation has not changed (:func:`conditional_page`, :func:`answer`): the strong ETag
  names the list's version for the unit (``shared/db/list_versions.py``, bumped by every change
  in the changing transaction) and what else the page depends on (its query, today's date), so
  an unchanged list costs one row read, not the page query (decision 0020).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.recording import not_modified
from shared.clock import Timestamp
from shared.db import list_versions
from shared.db.list_versions import ListVersions
from shared.runtime.errors import DomainError

MAX_ITEMS = 200  # a task list's largest page


class ItemOutcome(BaseModel):
    """What became of one item of a bulk request."""

    task_id: uuid.UUID
    status: int = Field(description="the HTTP status the single request would have answered")
    task_status: str | None = Field(None, description="the task's status after the decision")
    decided_at: Timestamp | None = None
    detail: str | None = Field(None, description="why the item was refused")
    rule: str | None = Field(None, description="the rule that refused the item")


class BulkOutcome(BaseModel):
    """One outcome per item, in the order of the request."""

    results: list[ItemOutcome]
    decided: int = Field(description="items decided by this request")
    refused: int = Field(description="items refused (their status and rule say why)")


def refused(task_id: uuid.UUID, exc: DomainError) -> ItemOutcome:
    return ItemOutcome(task_id=task_id, status=exc.status_code, detail=exc.detail, rule=exc.rule)


def outcome(results: list[ItemOutcome]) -> BulkOutcome:
    decided = sum(1 for r in results if r.status == 200)
    return BulkOutcome(results=results, decided=decided, refused=len(results) - decided)


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or ``*``)."""
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


@dataclass(frozen=True)
class Conditional:
    """A polled list's answer: its ETag, and its page unless the client holds it already."""

    etag: str
    page: BaseModel | None


# The longest a client may ask a list to wait for a change (``wait``, seconds): below the usual
# proxy read timeouts (nginx: 60 s).
MAX_WAIT_SECONDS = 30.0

# A polled list's ``wait`` parameter: its bounds and description, for a Query or a Field.
WAIT: dict[str, Any] = {
    "ge": 0,
    "le": MAX_WAIT_SECONDS,
    "description": "with If-None-Match naming the current ETag: answer once the list changes,"
    " or 304 after this many seconds (a long poll); 0 answers at once",
}
Wait = Annotated[float, Query(**WAIT)]


async def conditional_page(
    lists: ListVersions,
    list_name: str,
    scope: str,
    variant: Mapping[str, Any],
    if_none_match: str | None,
    load: Callable[[AsyncSession], Awaitable[BaseModel]],
    wait: float = 0.0,
) -> Conditional:
    """The list's version first, then (only if the client's copy is not current) the page by
    ``load``, in a session of its own: a page read after the version is never older than it.
    With ``wait``, a client holding the current version is answered once the list changes
    (a long poll), or with a 304 after ``wait`` seconds; no session is held meanwhile."""
    current = await lists.version(list_name, scope)
    tag = list_versions.etag(list_name, scope, current, variant)
    if matches(if_none_match, tag) and wait > 0:
        current = await lists.changed(list_name, scope, current, min(wait, MAX_WAIT_SECONDS))
        tag = list_versions.etag(list_name, scope, current, variant)
    if matches(if_none_match, tag):
        return Conditional(tag, None)
    async with lists.reads() as session:
        return Conditional(tag, await load(session))


def answer(result: Conditional) -> Response:
    """The page as JSON with its ETag, or ``304 Not Modified`` (no body, no audit entry: no
    personal data leaves) when the client holds it already."""
    if result.page is None:
        not_modified()
        return Response(status_code=304, headers={"ETag": result.etag})
    body = result.page.model_dump_json().encode()
    return Response(body, media_type="application/json", headers={"ETag": result.etag})
