"""The school registrar's record work beyond admission: status changes (学籍变动) with the
proofs the province requires, the graduating list (毕业名单), the term's roster confirmation
(学籍核查) and exports (导出申请, downloaded once the authority approves)."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from services.console import catalogue
from services.console.api import ApiError
from services.console.school_pages import _optional
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

MAX_PROOF_BYTES = 2 * 1024 * 1024
# The grounds the API knows for the changes that name one.
GROUNDS = {"suspend": ["illness", "notifiable_disease", "personal"], "decease": ["death"]}
# A placement names the school the student attends and its kind (N2013 art. 17, HA art. 12,
# ZJ art. 13); the registration stays here.
PLACEMENTS = ["special_education", "inclusive", "reform_school"]
# The order the kinds are offered in: the common ones first.
KIND_ORDER = [
    "suspend",
    "extend_suspension",
    "resume",
    "report_dropout",
    "suspect_dropout",
    "report_absence",
    "return",
    "go_abroad",
    "return_from_abroad",
    "decease",
    "skip_grade",
    "repeat_grade",
    "defer",
    "start",
]
OUTCOMES = ["graduated", "completed", "incomplete"]
EXPORT_FIELDS = [
    "student_number",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "grade",
    "class_name",
    "status",
    "enrolled_on",
]


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


# --- status changes ---------------------------------------------------------------------------


async def _kinds(page: Page, school: UnitRef, ground: str = "") -> list[dict[str, Any]]:
    """The kinds, each with the proofs of ``ground`` (else of its first ground) added to
    those of every ground (HA art. 13, LS 2(二), ZJ art. 14: proofs by ground)."""
    rules = await page.api.get(school, f"/api/v1/schools/{school.code}/status-change-rules")
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    kinds: list[dict[str, Any]] = sorted(
        rules["kinds"], key=lambda k: order.get(str(k["change"]), len(order))
    )
    for kind in kinds:
        offered = GROUNDS.get(str(kind["change"]), [])
        chosen = ground if ground in offered else (offered[0] if offered else None)
        for item in kind.get("proofs_by_ground", []):
            if item["ground"] in (None, chosen):
                kind["required_proofs"] = [*kind["required_proofs"], *item["kinds"]]
    return kinds


@router.get("/status-changes")
async def status_changes(page: UserPage) -> Response:
    school = _school(page)
    found = await page.api.get(
        school, f"/api/v1/schools/{school.code}/status-changes", params={"limit": 50}
    )
    return page.render("status_changes.html", changes=found)


@router.get("/status-changes/new")
async def status_change_form(
    page: UserPage,
    change: Annotated[str, Query(max_length=30)] = "suspend",
    student_number: Annotated[str, Query(max_length=19)] = "",
) -> Response:
    school = _school(page)
    kinds = await _kinds(page, school)
    kind = next((k for k in kinds if k["change"] == change), kinds[0])
    values = {"student_number": student_number.strip().upper(), "effective_on": ""}
    return page.render(
        "status_change_new.html",
        kinds=kinds,
        kind=kind,
        values=values,
        errors={},
        grounds=GROUNDS,
        placements=PLACEMENTS,
    )


@router.post("/status-changes/new", dependencies=[CSRF])
async def submit_status_change(request: Request, page: UserPage) -> Response:
    school = _school(page)
    form = await request.form()
    values = {
        key: str(form.get(key) or "").strip()
        for key in (
            "change",
            "student_number",
            "effective_on",
            "reason",
            "target_grade",
            "ground",
            "attending_school",
            "placement",
        )
    }
    kinds = await _kinds(page, school, values["ground"])
    kind = next((k for k in kinds if k["change"] == values["change"]), None)
    if kind is None:
        raise HTTPException(status_code=404)

    def again(**context: Any) -> Response:
        return page.form_error(
            "status_change_new.html",
            kinds=kinds,
            kind=kind,
            values=values,
            grounds=GROUNDS,
            placements=PLACEMENTS,
            **context,
        )

    needed = ["student_number", "effective_on", "reason"]
    if kind["needs_grade"]:
        needed.append("target_grade")
    if kind["change"] == "place":
        needed += ["attending_school", "placement"]
    errors = {key: catalogue.rule_message("missing_field") for key in needed if not values[key]}
    proofs = []
    slots = [*kind["required_proofs"], "other"]
    for slot, proof_kind in enumerate(slots):
        upload = form.get(f"proof_{slot}")
        if not isinstance(upload, UploadFile) or not upload.filename:
            if proof_kind != "other":
                errors[f"proof_{slot}"] = catalogue.word("ui", "proof_missing").format(
                    kind=catalogue.word("proof_kind", proof_kind)
                )
            continue
        data = await upload.read(MAX_PROOF_BYTES + 1)
        if len(data) > MAX_PROOF_BYTES or not data:
            errors[f"proof_{slot}"] = catalogue.rule_message("file_too_large") or ""
            continue
        proofs.append(
            {
                "kind": proof_kind,
                "filename": upload.filename[:120],
                "content_base64": base64.b64encode(data).decode("ascii"),
            }
        )
    if errors:
        return again(errors=errors)
    body: dict[str, Any] = {
        "student_number": values["student_number"].upper(),
        "change": kind["change"],
        "effective_on": values["effective_on"],
        "reason": values["reason"],
        "proofs": proofs,
    }
    if kind["needs_grade"]:
        grade = values["target_grade"]
        body["target_grade"] = int(grade) if grade.isdigit() else grade
    if values["ground"] in GROUNDS.get(kind["change"], []):
        body["ground"] = values["ground"]
    if kind["change"] == "place":
        body["attending_school"] = values["attending_school"]
        body["placement"] = values["placement"]
    try:
        answer = await page.api.post(
            school, f"/api/v1/schools/{school.code}/status-changes", json=body
        )
    except ApiError as error:
        if error.status in (401, 403):
            raise
        if error.fields:
            fields = {
                f.field.split(".")[0]: catalogue.field_message(f.rule, f.message)
                for f in error.fields
            }
            return again(errors=fields)
        return again(errors={}, error=catalogue.refusal(error))
    return page.redirect(f"/status-changes/{answer['change_id']}")


@router.get("/status-changes/{change_id}")
async def status_change(page: UserPage, change_id: uuid.UUID) -> Response:
    school = _school(page)
    found = await page.api.get(school, f"/api/v1/status-changes/{change_id}")
    student = None
    if not page.htmx:
        # the student may have left the roster since (a transfer): the change still shows
        student = await _optional(
            page.api.get(
                school, f"/api/v1/schools/{school.code}/students/{found['student_number']}"
            )
        )
    template = "_status_change_status.html" if page.htmx else "status_change.html"
    return page.render(template, change=found, student=student)


# --- the graduating list ----------------------------------------------------------------------


@router.get("/graduations")
async def graduations(page: UserPage) -> Response:
    """The students of the school's last grade, each with the certificate to give, and the
    lists sent before."""
    school = _school(page)
    summary, lists = await _gather(
        page.api.get(school, f"/api/v1/schools/{school.code}/roster-summary"),
        page.api.get(school, f"/api/v1/schools/{school.code}/graduations"),
    )
    candidates = await page.api.get(
        school,
        f"/api/v1/schools/{school.code}/students",
        params={"grade": summary["graduating_grade"], "status": "enrolled", "limit": 1000},
    )
    return page.render(
        "graduations.html",
        summary=summary,
        lists=lists,
        candidates=candidates,
        outcomes=OUTCOMES,
        open_lists=[b for b in lists if b["status"] == "submitted"],
    )


@router.post("/graduations", dependencies=[CSRF])
async def submit_graduations(request: Request, page: UserPage) -> Response:
    school = _school(page)
    form = await request.form()
    numbers = [str(n) for n in form.getlist("student_number")]
    items = []
    for number in numbers:
        outcome = str(form.get(f"outcome_{number}") or "")
        if outcome in OUTCOMES:
            items.append({"student_number": number, "outcome": outcome})
    year = str(form.get("graduation_year") or "")
    late_reason = str(form.get("late_reason") or "").strip()
    if not items:
        page.session.say(catalogue.word("ui", "graduation_empty"))
        return page.redirect("/graduations")
    body: dict[str, Any] = {
        "graduation_year": int(year) if year.isdigit() else year,
        "items": items,
    }
    if late_reason:
        body["late_reason"] = late_reason
    try:
        answer = await page.api.post(
            school, f"/api/v1/schools/{school.code}/graduations", json=body
        )
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        if error.fields:
            lines = []
            for f in error.fields:
                index = f.field.split(".")[1] if f.field.startswith("items.") else ""
                who = items[int(index)]["student_number"] if index.isdigit() else ""
                lines.append(f"{who} {catalogue.field_message(f.rule, f.message)}".strip())
            page.session.say("；".join(lines))
        else:
            page.session.say(catalogue.refusal(error))
        return page.redirect("/graduations")
    return page.redirect(f"/graduations/{answer['batch_id']}")


@router.get("/graduations/{batch_id}")
async def graduation(page: UserPage, batch_id: uuid.UUID) -> Response:
    school = _school(page)
    found = await page.api.get(school, f"/api/v1/schools/{school.code}/graduations/{batch_id}")
    template = "_graduation_status.html" if page.htmx else "graduation.html"
    return page.render(template, batch=found)


# --- the term's roster confirmation -----------------------------------------------------------


@router.get("/verification")
async def verification(page: UserPage) -> Response:
    school = _school(page)
    campaigns, summary = await _gather(
        page.api.get(school, f"/api/v1/schools/{school.code}/verification-campaigns"),
        page.api.get(school, f"/api/v1/schools/{school.code}/roster-summary"),
    )
    return page.render("verification.html", campaigns=campaigns, summary=summary, errors={})


@router.post("/verification/{campaign_id}", dependencies=[CSRF])
async def confirm_roster(request: Request, page: UserPage, campaign_id: uuid.UUID) -> Response:
    school = _school(page)
    form = await request.form()
    typed = str(form.get("not_attending") or "")
    absent = [n.strip().upper() for n in re.split(r"[,，\s]+", typed) if n.strip()]
    try:
        answer = await page.api.post(
            school,
            f"/api/v1/schools/{school.code}/roster-confirmations",
            json={"campaign_id": str(campaign_id), "not_attending": absent},
        )
    except ApiError as error:
        if error.status in (401, 403):
            raise
        if error.fields:
            message = "；".join(catalogue.field_message(f.rule, f.message) for f in error.fields)
        else:
            message = catalogue.refusal(error)
        page.session.say(message)
        return page.redirect("/verification")
    page.session.say(catalogue.word("ui", "roster_confirmed").format(attending=answer["attending"]))
    return page.redirect("/verification")


# --- exports ----------------------------------------------------------------------------------


@router.get("/exports")
async def exports(page: UserPage) -> Response:
    school = _school(page)
    found = await page.api.get(school, "/api/v1/exports")
    mine = [e for e in found["items"] if e["requested_by"] == page.session.username]
    return page.render("exports.html", exports=mine, fields=EXPORT_FIELDS, values={}, errors={})


@router.post("/exports", dependencies=[CSRF])
async def request_export(request: Request, page: UserPage) -> Response:
    school = _school(page)
    form = await request.form()
    fields = [str(f) for f in form.getlist("fields") if str(f) in EXPORT_FIELDS]
    purpose = str(form.get("purpose") or "").strip()
    values = {"fields": fields, "purpose": purpose}
    errors: dict[str, str | None] = {}
    if not fields:
        errors["fields"] = catalogue.word("ui", "fields_required")
    if len(purpose) < 4:
        errors["purpose"] = catalogue.word("ui", "purpose_required")
    error = None
    if not errors:
        try:
            await page.api.post(
                school,
                "/api/v1/exports",
                json={"population": f"school:{school.code}", "fields": fields, "purpose": purpose},
            )
        except ApiError as refused:
            if refused.status in (401, 404):
                raise
            error = catalogue.refusal(refused)
        else:
            page.session.say(catalogue.word("ui", "export_requested"))
            return page.redirect("/exports")
    found = await page.api.get(school, "/api/v1/exports")
    mine = [e for e in found["items"] if e["requested_by"] == page.session.username]
    return page.form_error(
        "exports.html",
        exports=mine,
        fields=EXPORT_FIELDS,
        values=values,
        errors=errors,
        error=error,
    )


@router.get("/exports/{export_id}/download")
async def download_export(page: UserPage, export_id: uuid.UUID) -> Response:
    school = _school(page)
    answer = await page.api.request("GET", school, f"/api/v1/exports/{export_id}/download")
    disposition = answer.headers.get(
        "content-disposition", f'attachment; filename="export-{export_id}.csv"'
    )
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


async def _gather(*calls: Awaitable[Any]) -> list[Any]:
    """The calls at once: one round trip's wait."""
    return list(await asyncio.gather(*calls))
