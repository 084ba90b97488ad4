"""Transfers in (the receiving school starts one, with its proofs, and follows its steps)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from services.console import catalogue
from services.console.api import ApiError, SessionExpired
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import NATIONAL, Tier, UnitRef

router = APIRouter()

PROOF_KINDS = ["application_form", "origin_registration_proof", "hukou_proof", "residence_proof"]
PROOF_SLOTS = 3
MAX_PROOF_BYTES = 2 * 1024 * 1024


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


async def national_view(page: Page, transfer_id: str) -> dict[str, Any] | None:
    """National's record of the transfer (every party's step), or None if it has none yet."""
    try:
        found: dict[str, Any] = await page.api.get(NATIONAL, f"/api/v1/transfers/{transfer_id}")
    except SessionExpired:
        raise
    except ApiError:
        return None
    return found


async def with_waiting(page: Page, transfers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each transfer with national's open step: whose turn, until when, overdue or not."""
    views = await asyncio.gather(*(national_view(page, t["transfer_id"]) for t in transfers))
    for transfer, view in zip(transfers, views, strict=True):
        transfer["national"] = view
        step = _open_step(view)
        transfer["waiting_step"] = step
    return transfers


def _open_step(view: dict[str, Any] | None) -> dict[str, Any] | None:
    if view is None:
        return None
    for step in view["steps"]:
        if step["state"] == "open":
            return dict(step)
    return None


@router.get("/transfers")
async def transfers(page: UserPage) -> Response:
    school = _school(page)
    found = await page.api.get(
        school, f"/api/v1/schools/{school.code}/transfers-in", params={"limit": 50}
    )
    await with_waiting(page, [t for t in found["items"] if t["status"] == "pending"])
    return page.render("transfers.html", transfers=found)


@router.get("/transfers/new")
async def transfer_form(page: UserPage) -> Response:
    _school(page)
    return page.render(
        "transfer_new.html", values={}, errors={}, kinds=PROOF_KINDS, slots=PROOF_SLOTS
    )


@router.post("/transfers/new", dependencies=[CSRF])
async def start_transfer(request: Request, page: UserPage) -> Response:
    school = _school(page)
    form = await request.form()
    values = {
        key: str(form.get(key) or "").strip()
        for key in (
            "student_number",
            "from_school",
            "grade",
            "class_name",
            "reason",
            "window_exception_reason",
        )
    }

    def again(**context: Any) -> Response:
        return page.form_error(
            "transfer_new.html", values=values, kinds=PROOF_KINDS, slots=PROOF_SLOTS, **context
        )

    errors = {
        key: catalogue.rule_message("missing_field")
        for key in ("student_number", "from_school", "grade", "reason")
        if not values[key]
    }
    proofs = []
    for slot in range(PROOF_SLOTS):
        upload = form.get(f"proof_{slot}")
        kind = str(form.get(f"proof_kind_{slot}") or "")
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        data = await upload.read(MAX_PROOF_BYTES + 1)
        if len(data) > MAX_PROOF_BYTES or not data:
            errors["proofs"] = catalogue.rule_message("file_too_large") or ""
            continue
        proofs.append(
            {
                "kind": kind if kind in PROOF_KINDS else "other",
                "filename": upload.filename[:120],
                "content_base64": base64.b64encode(data).decode("ascii"),
            }
        )
    if not proofs:
        errors["proofs"] = catalogue.word("ui", "proof_required")
    if errors:
        return again(errors=errors)
    body: dict[str, Any] = {
        "student_number": values["student_number"].upper(),
        "from_school": values["from_school"],
        "grade": int(values["grade"]) if values["grade"].isdigit() else values["grade"],
        "reason": values["reason"],
        "proofs": proofs,
    }
    if values["class_name"]:
        body["class_name"] = values["class_name"]
    if values["window_exception_reason"]:
        # outside the receiving province's window: the authority grants or refuses (0035)
        body["window_exception_reason"] = values["window_exception_reason"]
    try:
        answer = await page.api.post(
            school, f"/api/v1/schools/{school.code}/transfers-in", json=body
        )
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        if error.fields:
            fields = {
                f.field.split(".")[0]: catalogue.field_message(f.rule, f.message)
                for f in error.fields
            }
            return again(errors=fields)
        return again(errors={}, error=catalogue.refusal(error))
    return page.redirect(f"/transfers/{answer['transfer_id']}")


@router.get("/transfers/{transfer_id}")
async def transfer(page: UserPage, transfer_id: uuid.UUID) -> Response:
    school = _school(page)
    local = await page.api.get(school, f"/api/v1/schools/{school.code}/transfers-in/{transfer_id}")
    view = await national_view(page, str(transfer_id))
    template = "_transfer_steps.html" if page.htmx else "transfer.html"
    return page.render(template, transfer=local, national=view)
