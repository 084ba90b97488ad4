"""An authority's export approvals (导出审批, N2013 art. 25) as tasks of its desk.

An export's approval task is kept where the data is (decision 0011): a school's roster export
on the school's instance, an archive export on the province's, a registry export at national.
The authority's task list therefore asks each instance that may keep its approvals (those
hosting its schools, its province's, national's) for its open ones
(``GET /api/v1/approvals?unit=…``), and the officer decides one through that instance's desk
(``POST /api/v1/tasks/{task_id}/decision``: the same decision, four-eyes rule and audit as
any task). Which instance keeps a task travels as ``at``, a unit that instance hosts, checked
against the same list.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError, SessionExpired
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef

router = APIRouter()

AUTHORITY_TIERS = (Tier.COUNTY.value, Tier.CITY.value, Tier.PROVINCE.value)


def _authority(page: Page) -> UnitRef:
    if page.session.tier not in AUTHORITY_TIERS:
        raise HTTPException(status_code=404)
    return page.unit


def keepers(federation: Federation, unit: UnitRef) -> list[UnitRef]:
    """One unit per instance that may keep ``unit``'s export approvals: those hosting the
    schools it is the authority of, its province's, national's."""
    candidates = [UnitRef(tier=Tier.SCHOOL, code=s.code) for s in federation.schools_run_by(unit)]
    candidates += [UnitRef(tier=Tier.PROVINCE, code=unit.code[:2]), NATIONAL]
    seen: dict[str, UnitRef] = {}
    for candidate in candidates:
        instance = federation.instance_hosting(candidate)
        if instance is not None:
            seen.setdefault(instance.name, candidate)
    return list(seen.values())


async def open_approvals(page: Page, unit: UnitRef) -> list[dict[str, Any]]:
    """The unit's open export approvals on every instance keeping some, oldest first; each
    names the instance (``at``). An instance that does not answer is left out."""
    hosts = keepers(page.api.directory.federation, unit)
    params = {"unit": str(unit), "status": "open", "limit": 200}
    answers = await asyncio.gather(
        *(page.api.get(host, "/api/v1/approvals", params=params) for host in hosts),
        return_exceptions=True,
    )
    found: list[dict[str, Any]] = []
    for host, answer in zip(hosts, answers, strict=True):
        if isinstance(answer, SessionExpired):
            raise answer
        if isinstance(answer, BaseException):
            continue
        found += [{**task, "at": str(host)} for task in answer["items"]]
    return sorted(found, key=lambda task: str(task["opened_at"]))


def _keeper(page: Page, unit: UnitRef, at: str) -> UnitRef:
    try:
        host = UnitRef.parse(at)
    except ValueError:
        raise HTTPException(status_code=404) from None
    if host not in keepers(page.api.directory.federation, unit):
        raise HTTPException(status_code=404)
    return host


@router.get("/authority/exports")
async def approvals(page: UserPage) -> Response:
    unit = _authority(page)
    return page.render("authority_exports.html", exports=await open_approvals(page, unit))


@router.get("/authority/exports/{task_id}")
async def approval(
    page: UserPage, task_id: uuid.UUID, at: Annotated[str, Query(max_length=40)]
) -> Response:
    unit = _authority(page)
    host = _keeper(page, unit, at)
    found = await page.api.get(host, f"/api/v1/tasks/{task_id}")
    return page.render("export_task.html", task=found, at=str(host), error=None)


@router.post("/authority/exports/{task_id}/decision", dependencies=[CSRF])
async def decide(
    page: UserPage,
    task_id: uuid.UUID,
    at: Annotated[str, Query(max_length=40)],
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    unit = _authority(page)
    host = _keeper(page, unit, at)
    body: dict[str, str] = {"decision": decision}
    if reason.strip():
        body["reason"] = reason.strip()
    try:
        await page.api.post(host, f"/api/v1/tasks/{task_id}/decision", json=body)
    except ApiError as error:
        if error.status in (401, 404):
            raise
        found = await page.api.get(host, f"/api/v1/tasks/{task_id}")
        message = catalogue.refusal(error)
        if error.fields and decision == "reject":
            message = catalogue.word("ui", "reason_required")
        return page.form_error("export_task.html", task=found, at=str(host), error=message)
    page.session.say(catalogue.word("ui", "done"))
    return page.redirect("/authority/exports")
