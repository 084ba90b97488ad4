"""Acting on several objects in one request, and lists answered conditionally.

- A bulk request (e.g. ``POST /api/v1/tasks/decisions``) answers 200 with one outcome per
  item, in the order asked: ``status`` is the HTTP status the single request would have had
  (200, or 404/409/422 with its ``detail`` and ``rule``). A refused item never fails the
  others; the request as a whole is refused only when its body is invalid or the caller may
  not call the route at all.
- A list the client polls answers ``304 Not Modified`` to ``If-None-Match`` when its
  representation has not changed (:func:`etag`, :func:`matches`): the strong ETag is a hash of
  the page the client would otherwise receive, so it changes exactly when the page does.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from fastapi import Request, Response
from pydantic import BaseModel, Field

from shared.audit.recording import not_modified
from shared.runtime.errors import DomainError

MAX_ITEMS = 200  # a task list's largest page


class ItemOutcome(BaseModel):
    """What became of one item of a bulk request."""

    task_id: uuid.UUID
    status: int = Field(description="the HTTP status the single request would have answered")
    task_status: str | None = Field(None, description="the task's status after the decision")
    decided_at: datetime | None = None
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


def etag(body: bytes) -> str:
    """A strong ETag for a response body."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or ``*``)."""
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


def conditional(request: Request, page: BaseModel) -> Response:
    """``page`` as JSON with its ETag, or ``304 Not Modified`` (no body, no audit entry: no
    personal data leaves) when the client's ``If-None-Match`` names that ETag."""
    body = page.model_dump_json().encode()
    tag = etag(body)
    if matches(request.headers.get("if-none-match"), tag):
        not_modified()
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})
