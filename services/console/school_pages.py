"""The school registrar's pages: home, roster, registering a student, bulk admission."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import math
import uuid
from collections.abc import Awaitable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.authority_pages import authority_home
from services.console.national_pages import national_home
from services.console.transfer_pages import with_waiting
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef
from shared.resident_id import InvalidResidentId, validate_resident_id

router = APIRouter()

# The proof an under-age first-grader's registration carries (HA art. 4: 未经主管教育行政部门
# 批准 …; the province's ``[registration] under_age_proof``); the API refuses without it.
UNDER_AGE_PROOF = "early_admission_approval"
MAX_PROOF_BYTES = 2 * 1024 * 1024

PAGE_SIZE = 50
STATUSES = [
    "enrolled",
    "suspended",
    "dropout",
    "suspected_dropout",
    "other_departure",
    "abroad",
    "deceased",
    "graduated",
    "completed",
    "incomplete",
    "deferred",
    "withdrawn",
    "detained",
]


def _school(page: Page) -> UnitRef:
    """The logged-in user's school; other tiers have their own pages."""
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


@router.get("/")
async def home(page: UserPage) -> Response:
    if page.session.tier == Tier.NATIONAL.value:
        return await national_home(page)
    if page.session.tier != Tier.SCHOOL.value:
        return await authority_home(page)
    school = page.unit
    code = school.code
    # the lists at once: one round trip's wait, not one each
    tasks, progression_tasks, pending, transfers, summary = await asyncio.gather(
        page.api.get(
            school, f"/api/v1/schools/{code}/tasks", params={"status": "open", "limit": 50}
        ),
        page.api.get(
            school,
            f"/api/v1/schools/{code}/progression-tasks",
            params={"status": "open", "limit": 50},
        ),
        page.api.get(
            school,
            f"/api/v1/schools/{code}/registrations",
            params={"status": "pending", "limit": 20},
        ),
        page.api.get(
            school,
            f"/api/v1/schools/{code}/transfers-in",
            params={"status": "pending", "limit": 20},
        ),
        page.api.get(school, f"/api/v1/schools/{code}/roster-summary"),
    )
    await with_waiting(page, transfers["items"])
    return page.render(
        "home.html",
        tasks=tasks,
        progression_tasks=progression_tasks,
        pending=pending,
        transfers=transfers,
        summary=summary,
        overdue=sum(1 for t in [*tasks["items"], *progression_tasks["items"]] if t["overdue"])
        + sum(
            1 for t in transfers["items"] if (t["waiting_step"] or {}).get("overdue_notified_at")
        ),
    )


# --- roster -------------------------------------------------------------------------------


@router.get("/students")
async def roster(
    page: UserPage,
    q: Annotated[str, Query(max_length=50)] = "",
    grade: Annotated[str, Query(max_length=2)] = "",
    class_name: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    school = _school(page)
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": (p - 1) * PAGE_SIZE}
    if q.strip():
        params["q"] = q.strip()
    if grade.isdigit():
        params["grade"] = int(grade)
    if class_name.strip():
        params["class_name"] = class_name.strip()
    if status in STATUSES:
        params["status"] = status
    found = await page.api.get(school, f"/api/v1/schools/{school.code}/students", params=params)
    pages = max(1, math.ceil(found["total"] / PAGE_SIZE))
    kept = {"q": q, "grade": grade, "class_name": class_name, "status": status}
    query = {k: v for k, v in kept.items() if v}

    def page_url(number: int) -> str:
        return "/students?" + urlencode(query | {"p": number})

    return page.render(
        "roster.html",
        found=found,
        filters=kept,
        statuses=STATUSES,
        page_number=p,
        pages=pages,
        previous_url=page_url(p - 1) if p > 1 else None,
        next_url=page_url(p + 1) if p < pages else None,
    )


@router.get("/students/new")
async def register_form(page: UserPage) -> Response:
    _school(page)
    return page.render("register.html", values={"id_type": "resident_id"}, errors={})


@router.get("/students/{student_number}")
async def student_page(page: UserPage, student_number: str) -> Response:
    """Basic info (the school), the archive with its dated entries (the province) and the
    student's status changes (the school): one page, printable."""
    school = _school(page)
    number = student_number.strip().upper()
    province = UnitRef(tier=Tier.PROVINCE, code=school.code[:2])
    basic_call = asyncio.ensure_future(
        page.api.get(school, f"/api/v1/schools/{school.code}/students/{number}")
    )
    archive, changes = await asyncio.gather(
        _optional(page.api.get(province, f"/api/v1/schools/{school.code}/archives/{number}")),
        page.api.get(
            school,
            f"/api/v1/schools/{school.code}/status-changes",
            params={"student_number": number, "limit": 50},
        ),
    )
    try:
        basic = await basic_call
    except ApiError as error:  # left by a transfer or progression: no personal data here
        if error.rule != "student_left_school":
            raise
        return page.render("student_left.html", number=number, refusal=catalogue.refusal(error))
    history = sorted(
        [
            {
                "on": entry["occurred_on"],
                "what": catalogue.word("entry_kind", entry["kind"]),
                "section": catalogue.word("section", entry["section"]),
            }
            for entry in (archive or {}).get("entries", [])
        ]
        + [
            {
                "on": change["effective_on"],
                "what": catalogue.word("change", change["change"]),
                "section": catalogue.word("change_status", change["status"]),
            }
            for change in changes["items"]
        ],
        key=lambda item: str(item["on"]),
    )
    return page.render("student.html", student=basic, archive=archive, history=history)


async def _optional(call: Awaitable[Any]) -> Any:
    """The answer, or None where the API has nothing (404) for this user."""
    try:
        return await call
    except ApiError as error:
        if error.status != 404:
            raise
        return None


@router.post("/checks/id-number", dependencies=[CSRF])
async def check_id_number(
    page: UserPage,
    id_number: Annotated[str, Form(max_length=40)] = "",
    id_type: Annotated[str, Form(max_length=20)] = "resident_id",
) -> Response:
    """The live check as the registrar types: GB 11643-1999 rules (shared/resident_id.py),
    and the birth date and gender the number carries."""
    _school(page)
    result: dict[str, Any] = {"state": "empty"}
    if id_type == "resident_id" and id_number.strip():
        try:
            parsed = validate_resident_id(id_number, today=date.today())
        except InvalidResidentId as error:
            result = {"state": "invalid", "message": catalogue.field_message(error.rule, "")}
        else:
            result = {
                "state": "valid",
                "birth_date": parsed.birth_date,
                "gender": parsed.sex,
            }
    return page.render("_id_check.html", check=result)


DOCUMENTS = {"registration-proof": "registration_proof", "basic-info": "basic_info"}


@router.post("/students/{student_number}/documents", dependencies=[CSRF])
async def print_document(
    page: UserPage,
    student_number: str,
    kind: Annotated[str, Form(pattern="^(registration-proof|basic-info)$")],
    purpose: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """打印: the student's registration proof or basic-information sheet, issued by the
    school's API with the user's own token (who may print what is the API's rule), as a PDF
    download."""
    school = _school(page)
    number = student_number.strip().upper()
    params = {"purpose": purpose.strip()} if purpose.strip() else {}
    document = await page.api.request(
        "GET",
        school,
        f"/api/v1/schools/{school.code}/students/{number}/documents/{kind}.pdf",
        params=params,
    )
    filename = f"{DOCUMENTS[kind]}-{number}.pdf"
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/students/new", dependencies=[CSRF])
async def register(
    page: UserPage,
    name: Annotated[str, Form(max_length=50)] = "",
    gender: Annotated[str, Form(max_length=10)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    id_type: Annotated[str, Form(max_length=20)] = "resident_id",
    id_number: Annotated[str, Form(max_length=40)] = "",
    ethnicity: Annotated[str, Form(max_length=20)] = "",
    grade: Annotated[str, Form(max_length=2)] = "1",
    enrolled_on: Annotated[str, Form(max_length=10)] = "",
    guardian_name: Annotated[str, Form(max_length=50)] = "",
    guardian_relation: Annotated[str, Form(max_length=20)] = "",
    guardian_phone: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=200)] = "",
    hukou_region: Annotated[str, Form(max_length=6)] = "",
    proof: Annotated[UploadFile | None, File()] = None,
) -> Response:
    school = _school(page)
    values = {
        "name": name.strip(),
        "gender": gender,
        "birth_date": birth_date,
        "id_type": id_type,
        "id_number": id_number.strip(),
        "ethnicity": ethnicity.strip(),
        "grade": grade,
        "enrolled_on": enrolled_on,
        "guardian_name": guardian_name.strip(),
        "guardian_relation": guardian_relation.strip(),
        "guardian_phone": guardian_phone.strip(),
        "address": address.strip(),
        "hukou_region": hukou_region.strip(),
    }
    errors = {
        key: catalogue.rule_message("missing_field")
        for key in ("name", "gender", "birth_date", "grade", "enrolled_on")
        if not values[key]
    }
    proofs = []
    if proof is not None and proof.filename:
        data = await proof.read(MAX_PROOF_BYTES + 1)
        if len(data) > MAX_PROOF_BYTES or not data:
            errors["proof"] = catalogue.rule_message("file_too_large") or ""
        else:
            proofs.append(
                {
                    "kind": UNDER_AGE_PROOF,
                    "filename": proof.filename[:120],
                    "content_base64": base64.b64encode(data).decode("ascii"),
                }
            )
    if errors:
        return page.form_error("register.html", values=values, errors=errors)
    extended: dict[str, Any] = {}
    if values["guardian_name"]:
        extended["guardians"] = [
            {
                "name": values["guardian_name"],
                "relation": values["guardian_relation"] or "监护人",
                "phone": values["guardian_phone"] or None,
            }
        ]
    if values["address"]:
        extended["address"] = values["address"]
    if values["hukou_region"]:
        extended["hukou_region"] = values["hukou_region"]
    body = {
        "name": values["name"],
        "gender": values["gender"],
        "birth_date": values["birth_date"],
        "id_type": values["id_type"],
        "id_number": values["id_number"] or None,
        "ethnicity": values["ethnicity"] or None,
        "grade": int(grade) if grade.isdigit() else grade,
        "enrolled_on": values["enrolled_on"],
        "extended": extended,
        "proofs": proofs,
    }
    try:
        answer = await page.api.post(school, f"/api/v1/schools/{school.code}/students", json=body)
    except ApiError as error:
        if error.fields:
            errors = {
                (f.field.split(".")[0] if not f.field.startswith("extended") else "extended"): (
                    catalogue.field_message(f.rule, f.message)
                )
                for f in error.fields
            }
            return page.form_error("register.html", values=values, errors=errors)
        if error.rule == "under_age_proof_required":  # HA art. 4: at the upload field
            refused = {"proof": catalogue.refusal(error)}
            return page.form_error("register.html", values=values, errors=refused)
        return page.form_error(
            "register.html", values=values, errors={}, error=catalogue.refusal(error)
        )
    return page.redirect(f"/registrations/{answer['registration_id']}")


@router.get("/registrations/{registration_id}")
async def registration(page: UserPage, registration_id: uuid.UUID) -> Response:
    school = _school(page)
    found = await page.api.get(school, f"/api/v1/registrations/{registration_id}")
    template = "_registration_status.html" if page.htmx else "registration.html"
    return page.render(template, registration=found)


# --- bulk admission -----------------------------------------------------------------------


@router.get("/admissions/new")
async def admission_form(page: UserPage) -> Response:
    _school(page)
    return page.render("admission.html")


@router.post("/admissions/new", dependencies=[CSRF])
async def admit(page: UserPage, file: Annotated[UploadFile | None, File()] = None) -> Response:
    school = _school(page)
    limit = page.console.settings.console_max_upload_bytes
    data = await file.read(limit + 1) if file is not None else b""
    if file is None or not file.filename or not data:
        return page.form_error("admission.html", error=catalogue.rule_message("upload_empty"))
    if len(data) > limit:
        return page.form_error("admission.html", error=catalogue.rule_message("file_too_large"))
    try:
        job = await page.api.post(
            school,
            f"/api/v1/schools/{school.code}/admission-jobs",
            files={"file": (file.filename, data, file.content_type or "application/octet-stream")},
        )
    except ApiError as error:
        if error.status in (404, 401, 403):
            raise
        message = catalogue.refusal(error)
        if error.fields:
            message = "；".join(catalogue.field_message(f.rule, f.message) for f in error.fields)
        return page.form_error("admission.html", error=message)
    return page.redirect(f"/admissions/{job['job_id']}")


@router.get("/admissions/{job_id}")
async def admission_job(page: UserPage, job_id: uuid.UUID) -> Response:
    school = _school(page)
    job = await page.api.get(school, f"/api/v1/admission-jobs/{job_id}")
    errors: list[dict[str, str]] = []
    if job["rows"]["rejected"] and not page.htmx:
        report = await page.api.request(
            "GET", school, f"/api/v1/admission-jobs/{job_id}/errors.csv"
        )
        errors = _report_rows(report.content)
    progress = _progress(job)
    template = "_admission_progress.html" if page.htmx else "admission_job.html"
    return page.render(template, job=job, progress=progress, errors=errors)


@router.get("/admissions/{job_id}/errors.csv")
async def admission_errors(page: UserPage, job_id: uuid.UUID) -> Response:
    school = _school(page)
    report = await page.api.request("GET", school, f"/api/v1/admission-jobs/{job_id}/errors.csv")
    return Response(
        report.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="admission-{job_id}-errors.csv"'},
    )


def _progress(job: dict[str, Any]) -> dict[str, Any]:
    """How far the authority's decisions have come: decided / accepted rows."""
    accepted = int(job["rows"]["accepted"])
    outcome = job["registrations"]
    decided = int(outcome["approved"]) + int(outcome["rejected"])
    percent = 100 if accepted == 0 else round(100 * decided / accepted)
    return {
        "accepted": accepted,
        "decided": decided,
        "percent": percent,
        "done": decided >= accepted,
    }


def _report_rows(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))[:500]


# --- transfers out: the school's own step ----------------------------------------------------


@router.get("/tasks/{task_id}")
async def transfer_task(page: UserPage, task_id: uuid.UUID) -> Response:
    school = _school(page)
    found = await page.api.get(school, f"/api/v1/tasks/{task_id}")
    return page.render(_task_template(found), task=found)


def _task_template(task: dict[str, Any]) -> str:
    """The school's own step: of a transfer out, or of its graduates' progression (升学核办)."""
    return "progression_task.html" if task.get("progression") else "transfer_task.html"


@router.post("/tasks/{task_id}/decision", dependencies=[CSRF])
async def decide_transfer_task(
    page: UserPage,
    task_id: uuid.UUID,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    school = _school(page)
    body: dict[str, str] = {"decision": decision}
    if reason.strip():
        body["reason"] = reason.strip()
    try:
        await page.api.post(school, f"/api/v1/tasks/{task_id}/decision", json=body)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        found = await page.api.get(school, f"/api/v1/tasks/{task_id}")
        message = (
            catalogue.word("ui", "reason_required") if error.fields else catalogue.refusal(error)
        )
        return page.form_error(_task_template(found), task=found, error=message)
    page.session.say(catalogue.word("ui", "done"))
    return page.redirect("/")
