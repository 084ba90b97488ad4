"""The registry authority's pages (county; city / prefecture for the schools it runs and the
filings of its counties' schools, decision 0034; province for province-direct schools): the
task list and deciding a task. A city's desk is served by its province's instance (the
Directory finds it through the federation configuration)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import Response

from services.console import catalogue, export_task_pages
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

# the authority tiers and their desks' path segment: /api/v1/{plural}/{code}/tasks
PLURAL = {
    Tier.COUNTY.value: "counties",
    Tier.CITY.value: "cities",
    Tier.PROVINCE.value: "provinces",
}


def _authority(page: Page) -> UnitRef:
    if page.session.tier not in PLURAL:
        raise HTTPException(status_code=404)
    return page.unit


async def authority_home(page: Page) -> Response:
    if page.session.tier not in PLURAL:
        return page.render("home_other.html")
    unit = page.unit
    tasks = await page.api.get(
        unit,
        f"/api/v1/{PLURAL[unit.tier.value]}/{unit.code}/tasks",
        params={"status": "open", "limit": 100},
    )
    exports = await export_task_pages.open_approvals(page, unit)  # kept where the data is
    return page.render(
        "authority_home.html",
        tasks=tasks,
        exports=exports,
        overdue=sum(1 for t in [*tasks["items"], *exports] if t["overdue"]),
    )


@router.get("/authority/tasks/{task_id}")
async def task(page: UserPage, task_id: uuid.UUID, error: str | None = None) -> Response:
    unit = _authority(page)
    found = await page.api.get(unit, f"/api/v1/tasks/{task_id}")
    return page.render("authority_task.html", task=found, error=error)


@router.get("/authority/tasks/{task_id}/proofs/{index}")
async def task_proof(page: UserPage, task_id: uuid.UUID, index: int) -> Response:
    """A proof of the task (e.g. an under-age first-grader's approval, HA art. 4), as the
    file the school sent, read with the officer's own token (the API audits the read)."""
    unit = _authority(page)
    if not 0 <= index < 100:
        raise HTTPException(status_code=404)
    found = await page.api.request("GET", unit, f"/api/v1/tasks/{task_id}/proofs/{index}")
    headers = {"Content-Disposition": found.headers.get("content-disposition", "attachment")}
    media_type = found.headers.get("content-type", "application/octet-stream")
    return Response(found.content, media_type=media_type, headers=headers)


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
        found = await page.api.get(unit, f"/api/v1/tasks/{task_id}")
        message = catalogue.refusal(error)
        if error.fields:
            message = catalogue.word("ui", "reason_required") if decision == "reject" else message
        return page.form_error("authority_task.html", task=found, error=message)
    page.session.say(catalogue.word("ui", "done"))
    return page.redirect("/")
