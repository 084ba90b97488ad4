"""A school's data-security pledge (附表4) on its exports page (LS 7): whether its province
holds export requests until the signed pledge is on file, printing the pledge, and uploading
its signed and sealed scan. The API answers and audits each step (``/api/v1/exports/pledge``,
the school's documents)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

MAX_SCAN_BYTES = 2 * 1024 * 1024  # the school API's proof limit (XUEJI_SCHOOL_MAX_PROOF_BYTES)


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


async def _state(page: Page, school: UnitRef) -> dict[str, Any]:
    found: dict[str, Any] = await page.api.get(
        school, "/api/v1/exports/pledge", params={"unit": str(school)}
    )
    return found


@router.get("/exports/pledge")
async def pledge(page: UserPage, error: str | None = None) -> Response:
    """The pledge's state, as a part of the exports page (loaded by htmx)."""
    school = _school(page)
    return page.render("_pledge_state.html", pledge=await _state(page, school), error=error)


@router.get("/exports/pledge.pdf")
async def print_pledge(page: UserPage) -> Response:
    """附表4 pre-filled for the school and this account, to be signed and sealed."""
    school = _school(page)
    found = await page.api.request(
        "GET", school, f"/api/v1/schools/{school.code}/documents/security-pledge.pdf"
    )
    headers = {"Content-Disposition": found.headers.get("content-disposition", "attachment")}
    return Response(found.content, media_type="application/pdf", headers=headers)


@router.post("/exports/pledge/scan", dependencies=[CSRF])
async def upload_scan(page: UserPage, scan: Annotated[UploadFile, File()]) -> Response:
    """The signed and sealed pledge, scanned, uploaded back to the pledge printed last."""
    school = _school(page)
    state = await _state(page, school)
    data = await scan.read(MAX_SCAN_BYTES + 1)
    error = None
    if state["document_id"] is None:
        error = catalogue.word("rights", "pledge_print_first")
    elif not data or len(data) > MAX_SCAN_BYTES:
        error = catalogue.word("rights", "scan_too_large")
    else:
        body = {
            "filename": (scan.filename or "pledge.pdf")[:120],
            "content_base64": base64.b64encode(data).decode("ascii"),
        }
        path = f"/api/v1/schools/{school.code}/documents/{state['document_id']}/signed-scan"
        try:
            await page.api.request("PUT", school, path, json=body)
        except ApiError as refused:
            if refused.status in (401, 404):
                raise
            error = catalogue.refusal(refused)
    if error is not None:
        return page.form_error("_pledge_state.html", pledge=state, error=error)
    page.session.say(catalogue.word("rights", "pledge_uploaded"))
    return page.redirect("/exports")
