"""The registry authority's pages (county; city / prefecture for the schools it runs and the
filings of its counties' schools, decision 0034; province for province-direct schools): the
approval queue, deciding a task (alone or a selection at once), interventions in late steps
of the units below (HA art. 11(三)) and a county's unclaimed students. A city's desk is served
by its province's instance (the Directory finds it through the federation configuration).

The queue is the desk's task list (decision 0020): every kind in one list, sorted by due
date, filtered by kind and school; it refreshes itself through the list's long poll (an htmx
element that asks again with the list's ETag and ``wait``), with no script of its own.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from services.console import catalogue, export_task_pages
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage, zh_date, zh_datetime
from shared.federation.config import NATIONAL, Tier, UnitRef

router = APIRouter()

# the authority tiers and their desks' path segment: /api/v1/{plural}/{code}/tasks
PLURAL = {
    Tier.COUNTY.value: "counties",
    Tier.CITY.value: "cities",
    Tier.PROVINCE.value: "provinces",
}
# the kinds an authority's queue may hold, in the order its filter offers them
KINDS = (
    "registration_batch",
    "transfer_step",
    "transfer_intervention",
    "progression_step",
    "status_change",
    "key_field_change",
    "graduation_batch",
    "duplicate_resolution",
    "verification_findings",
    "filing",
    "statistics_alert",
    "export_approval",
)
QUEUE_PAGE = 50  # tasks per page of the queue (and at most one page's selection at once)
# How long one poll of the queue waits for a change: under the console's API timeout (30 s)
# and a proxy's read timeout (nginx: 60 s).
POLL_WAIT = 20
SCHOOL_CODE = re.compile(r"^\d{10}$")
# A proof shown in the page rather than downloaded: images and PDFs only, recognised by their
# first bytes (never by the name the school gave the file).
VIEWABLE = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
# A proof shown in the page may be framed by the console's own pages only, runs nothing and
# loads nothing else.
PROOF_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'"


def _authority(page: Page) -> UnitRef:
    if page.session.tier not in PLURAL:
        raise HTTPException(status_code=404)
    return page.unit


def _tasks_path(unit: UnitRef) -> str:
    return f"/api/v1/{PLURAL[unit.tier.value]}/{unit.code}/tasks"


def _filters(kind: str | None, school: str | None, offset: int | None) -> dict[str, Any]:
    """The queue's filters from the page's query, each kept only when it is valid."""
    chosen: dict[str, Any] = {}
    if kind in KINDS:
        chosen["kind"] = kind
    school = (school or "").strip()
    if SCHOOL_CODE.match(school):
        chosen["school"] = school
    if offset and offset > 0:
        chosen["offset"] = offset
    return chosen


def _schools(page: Page, unit: UnitRef) -> list[tuple[str, str]]:
    """The schools a county's filter offers (a city or province types a code: it may have
    thousands)."""
    if unit.tier is not Tier.COUNTY:
        return []
    federation = page.console.directory.federation
    return [(s.code, s.name) for s in federation.schools_of_county(unit.code)]


async def _queue(page: Page, unit: UnitRef, filters: dict[str, Any]) -> tuple[Any, str]:
    """One page of the open tasks by due date, and the list's ETag."""
    params = {"status": "open", "order": "due", "limit": QUEUE_PAGE, **filters}
    answer = await page.api.request("GET", unit, _tasks_path(unit), params=params)
    return answer.json(), answer.headers.get("etag", "")


def _queue_context(
    page: Page, unit: UnitRef, filters: dict[str, Any], tasks: Any, etag: str
) -> dict[str, Any]:
    offset = int(filters.get("offset", 0))
    query = {k: v for k, v in filters.items() if k != "offset"}

    def at(position: int) -> str:
        return "/?" + urlencode({**query, **({"offset": position} if position else {})})

    poll = "/authority/queue?" + urlencode({**filters, "version": etag})
    return {
        "tasks": tasks,
        "rows": [_row(t) for t in tasks["items"]],
        "filters": filters,
        "kinds": KINDS,
        "schools": _schools(page, unit),
        "overdue": sum(1 for t in tasks["items"] if t["overdue"]),
        "poll_url": poll,
        "previous_url": at(max(offset - QUEUE_PAGE, 0)) if offset else None,
        "next_url": at(offset + QUEUE_PAGE) if offset + QUEUE_PAGE < tasks["total"] else None,
        "first": offset + 1,
    }


def _row(task: dict[str, Any]) -> dict[str, Any]:
    """A queue line's words, worked out once (the page shows some of them twice)."""
    kind = catalogue.word("task_kind", task["kind"])
    return {
        "task": task,
        "kind": kind,
        "label": f"{kind} · {task['school_name'] or task['school_code'] or '—'}",
        "opened": zh_datetime(task["opened_at"]),
        "due": zh_date(task["due_on"]),
    }


async def authority_home(page: Page) -> Response:
    """The queue: the unit's open tasks, earliest due date first, overdue ones marked."""
    if page.session.tier not in PLURAL:
        return page.render("home_other.html")
    unit = page.unit
    query = page.request.query_params
    offset = query.get("offset", "")
    filters = _filters(
        query.get("kind"), query.get("school"), int(offset) if offset.isdigit() else 0
    )
    tasks, etag = await _queue(page, unit, filters)
    exports = await export_task_pages.open_approvals(page, unit)  # kept where the data is
    return page.render(
        "authority_home.html", exports=exports, **_queue_context(page, unit, filters, tasks, etag)
    )


@router.get("/authority/queue")
async def queue_poll(
    page: UserPage,
    version: Annotated[str, Query(max_length=200)] = "",
    kind: str | None = None,
    school: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """The queue's long poll (htmx): asks the desk with the ETag the page shows and waits for
    a change; unchanged, the same poller comes back and asks again, changed, the new queue
    replaces the old one (out of band) with a poller naming the new version."""
    unit = _authority(page)
    filters = _filters(kind, school, offset)
    params = {"status": "open", "order": "due", "limit": QUEUE_PAGE, **filters}
    headers = {"If-None-Match": version} if version else {}
    answer = await page.api.request(
        "GET", unit, _tasks_path(unit), params={**params, "wait": POLL_WAIT}, headers=headers
    )
    if answer.status_code == 304:
        again = "/authority/queue?" + urlencode({**filters, "version": version})
        return page.render("_queue_poll.html", poll_url=again, changed=False)
    context = _queue_context(page, unit, filters, answer.json(), answer.headers.get("etag", ""))
    return page.render("_queue_poll.html", changed=True, **context)


@router.post("/authority/tasks/decisions", dependencies=[CSRF])
async def decide_many(request: Request, page: UserPage) -> Response:
    """Approve a selection of the queue at once: one request to the desk, one outcome per
    task shown (a refused task never holds back the others)."""
    unit = _authority(page)
    form = await request.form()
    chosen: list[uuid.UUID] = []
    for value in form.getlist("task_id"):
        try:
            task_id = uuid.UUID(str(value))
        except ValueError:
            raise HTTPException(status_code=422) from None
        if task_id not in chosen:
            chosen.append(task_id)
    if not chosen:
        page.session.say(catalogue.word("ui", "nothing_selected"))
        return page.redirect("/")
    if len(chosen) > QUEUE_PAGE:
        raise HTTPException(status_code=422)
    body = {"decisions": [{"task_id": str(t), "decision": "approve"} for t in chosen]}
    answer = await page.api.post(unit, "/api/v1/tasks/decisions", json=body)
    outcomes = []
    for result in answer["results"]:
        label = str(form.get(f"label_{result['task_id']}") or "")[:120]
        refusal = None
        if result["status"] != 200:
            error = ApiError(result["status"], result.get("rule"), result.get("detail") or "")
            refusal = catalogue.refusal(error)
        outcomes.append({**result, "label": label, "refusal": refusal})
    return page.render(
        "authority_bulk.html",
        outcomes=outcomes,
        decided=answer["decided"],
        refused=answer["refused"],
    )


async def _student(page: Page, task: Any) -> Any:
    """The student a status change is about, as the school's roster has them (basic info);
    None when the roster no longer shows them to this officer."""
    change = task.get("status_change")
    school = task.get("school_code")
    if not change or not school:
        return None
    unit = UnitRef(tier=Tier.SCHOOL, code=school)
    try:
        return await page.api.get(
            unit, f"/api/v1/schools/{school}/students/{change['student_number']}"
        )
    except ApiError:
        return None


async def _task_page(page: Page, unit: UnitRef, task_id: uuid.UUID, error: str | None) -> Response:
    found = await page.api.get(unit, f"/api/v1/tasks/{task_id}")
    context = {
        "task": found,
        "student": await _student(page, found),
        "reasons": catalogue.reject_reasons(found["kind"]),
        "error": error,
    }
    if error:
        return page.form_error("authority_task.html", **context)
    return page.render("authority_task.html", **context)


@router.get("/authority/tasks/{task_id}")
async def task(page: UserPage, task_id: uuid.UUID) -> Response:
    unit = _authority(page)
    return await _task_page(page, unit, task_id, None)


def _inline(content: bytes) -> str | None:
    """The media type of a proof the page may show, from its first bytes; None otherwise."""
    for magic, media_type in VIEWABLE:
        if content.startswith(magic):
            return media_type
    return None


def _proof_response(found: Any, view: bool) -> Response:
    """A proof as the console serves it: shown in the page (``view``, an image or a PDF,
    framed by the console's pages only) or downloaded."""
    content = found.content
    disposition = found.headers.get("content-disposition", "attachment")
    media_type = found.headers.get("content-type", "application/octet-stream")
    headers = {"Content-Disposition": disposition}
    shown = _inline(content) if view else None
    if shown:
        media_type = shown
        headers = {
            "Content-Disposition": disposition.replace("attachment", "inline", 1),
            "Content-Security-Policy": PROOF_CSP,
            "X-Frame-Options": "SAMEORIGIN",
        }
    return Response(content, media_type=media_type, headers=headers)


@router.get("/authority/tasks/{task_id}/proofs/{index}")
async def task_proof(
    page: UserPage, task_id: uuid.UUID, index: int, view: bool = False
) -> Response:
    """A proof kept with the task (e.g. an under-age first-grader's approval, HA art. 4;
    a key-field change's documents), as the file the school sent, read with the officer's
    own token (the API audits the read)."""
    unit = _authority(page)
    if not 0 <= index < 100:
        raise HTTPException(status_code=404)
    found = await page.api.request("GET", unit, f"/api/v1/tasks/{task_id}/proofs/{index}")
    return _proof_response(found, view)


def _linked(task: Any, index: int) -> tuple[UnitRef, str] | None:
    """Where the school serves a proof the task links to (a transfer's, a status change's, a
    duplicate resolution's): the school's unit and the path. The link comes from the desk's
    answer to this officer, never from the browser."""
    for section, school in (
        ("transfer", "to_school"),
        ("status_change", None),
        ("duplicate", "real_school"),
    ):
        facts = task.get(section)
        if not facts:
            continue
        code = facts[school] if school else task.get("school_code")
        for proof in facts.get("proofs", []):
            if proof["index"] == index and code:
                path = urlsplit(proof["url"]).path
                if path.startswith("/api/v1/"):
                    return UnitRef(tier=Tier.SCHOOL, code=code), path
    return None


PROOF_PATH = re.compile(r"^/authority/tasks/[0-9a-f-]{36}/(proofs|linked-proofs)/\d{1,2}$")


@router.get("/authority/proof-viewer")
async def proof_viewer(
    page: UserPage,
    src: Annotated[str, Query(max_length=120)],
    title: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    """The frame that shows a proof in the task page, swapped in when the officer asks (the
    proof's own route authorizes the read)."""
    _authority(page)
    if not PROOF_PATH.match(src):
        raise HTTPException(status_code=404)
    return page.render("_proof_viewer.html", src=src, title=title or "证明材料")


@router.get("/authority/tasks/{task_id}/linked-proofs/{index}")
async def linked_proof(
    page: UserPage, task_id: uuid.UUID, index: int, view: bool = False
) -> Response:
    """A proof the school keeps (a transfer's, a status change's), read at that school with
    the officer's own token: the school's API decides whether this officer may read it."""
    unit = _authority(page)
    found = await page.api.get(unit, f"/api/v1/tasks/{task_id}")
    where = _linked(found, index)
    if where is None:
        raise HTTPException(status_code=404)
    school, path = where
    return _proof_response(await page.api.request("GET", school, path), view)


@router.post("/authority/tasks/{task_id}/decision", dependencies=[CSRF])
async def decide(
    page: UserPage,
    task_id: uuid.UUID,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    unit = _authority(page)
    body: dict[str, str] = {"decision": decision}
    if reason.strip():
        body["reason"] = reason.strip()
    try:
        await page.api.post(unit, f"/api/v1/tasks/{task_id}/decision", json=body)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        message = catalogue.refusal(error)
        if error.fields:
            message = catalogue.word("ui", "reason_required") if decision == "reject" else message
        return await _task_page(page, unit, task_id, message)
    page.session.say(catalogue.word("ui", "done"))
    return page.redirect("/")


@router.get("/authority/unclaimed")
async def unclaimed(page: UserPage) -> Response:
    """A county's students who left a school and were not taken back (学籍核查): each with
    the school that must act and what resolves it."""
    unit = _authority(page)
    if unit.tier is not Tier.COUNTY:
        raise HTTPException(status_code=404)
    found, findings = await asyncio.gather(
        page.api.get(NATIONAL, f"/api/v1/counties/{unit.code}/unclaimed"),
        page.api.get(
            unit,
            _tasks_path(unit),
            params={"status": "open", "kind": "verification_findings", "limit": QUEUE_PAGE},
        ),
    )
    return page.render("authority_unclaimed.html", unclaimed=found, findings=findings)
