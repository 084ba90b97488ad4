"""The school's pages of decision 0043: the history list of students who left (who, to
where, when), the edit of guardians, phone and address in the province's archive, and the
application for a key-field change with its proof (the county approves it on its desk)."""

from __future__ import annotations

import base64
import math
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

PAGE_SIZE = 50
MAX_PROOF_BYTES = 2 * 1024 * 1024
KEY_FIELDS = ("name", "gender", "birth_date", "nationality", "ethnicity", "id_type", "id_number")
PROOF_KINDS = ("hukou_proof", "other")


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


def _province(school: UnitRef) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.code[:2])


@router.get("/departures")
async def departures(page: UserPage, p: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """离校学生名单: who left by a transfer or progression, to where and when."""
    school = _school(page)
    found = await page.api.get(
        school,
        f"/api/v1/schools/{school.code}/departures",
        params={"limit": PAGE_SIZE, "offset": (p - 1) * PAGE_SIZE},
    )
    pages = max(1, math.ceil(found["total"] / PAGE_SIZE))
    return page.render(
        "departures.html",
        found=found,
        page_number=p,
        pages=pages,
        previous_url=f"/departures?p={p - 1}" if p > 1 else None,
        next_url=f"/departures?p={p + 1}" if p < pages else None,
    )


@router.post("/students/{student_number}/contacts", dependencies=[CSRF])
async def change_contacts(
    page: UserPage,
    student_number: str,
    guardian_name: Annotated[str, Form(max_length=50)] = "",
    guardian_relation: Annotated[str, Form(max_length=20)] = "",
    guardian_phone: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """非基础信息变更: straight into the province's archive, no authority."""
    school = _school(page)
    number = student_number.strip().upper()
    body: dict[str, Any] = {}
    if guardian_name.strip():
        body["guardians"] = [
            {
                "name": guardian_name.strip(),
                "relation": guardian_relation.strip() or "监护人",
                "phone": guardian_phone.strip() or None,
            }
        ]
    if address.strip():
        body["address"] = address.strip()
    if phone.strip():
        body["phone"] = phone.strip()
    if not body:
        page.session.say(catalogue.rule_message("contacts_no_change") or "")
        return page.redirect(f"/students/{number}")
    try:
        await page.api.post(
            _province(school),
            f"/api/v1/schools/{school.code}/archives/{number}/contacts",
            json=body,
        )
    except ApiError as error:
        page.session.say(catalogue.refusal(error))
        return page.redirect(f"/students/{number}")
    page.session.say(catalogue.rule_message("contacts_changed") or "")
    return page.redirect(f"/students/{number}")


@router.get("/students/{student_number}/key-field-change")
async def key_field_form(page: UserPage, student_number: str) -> Response:
    school = _school(page)
    number = student_number.strip().upper()
    student = await page.api.get(school, f"/api/v1/schools/{school.code}/students/{number}")
    return page.render(
        "key_field_change.html", student=student, values={}, errors={}, proof_kinds=PROOF_KINDS
    )


@router.post("/students/{student_number}/key-field-change", dependencies=[CSRF])
async def apply_key_field_change(
    page: UserPage,
    student_number: str,
    name: Annotated[str, Form(max_length=50)] = "",
    gender: Annotated[str, Form(max_length=10)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    nationality: Annotated[str, Form(max_length=3)] = "",
    ethnicity: Annotated[str, Form(max_length=20)] = "",
    id_type: Annotated[str, Form(max_length=20)] = "",
    id_number: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    proof_kind: Annotated[str, Form(max_length=40)] = "hukou_proof",
    proof: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """关键信息变更: the guardian's application with proof; the school sends it to the county."""
    school = _school(page)
    number = student_number.strip().upper()
    values = {
        "name": name.strip(),
        "gender": gender,
        "birth_date": birth_date,
        "nationality": nationality.strip(),
        "ethnicity": ethnicity.strip(),
        "id_type": id_type,
        "id_number": id_number.strip(),
        "reason": reason.strip(),
    }
    errors: dict[str, str] = {}
    if not values["reason"]:
        errors["reason"] = catalogue.rule_message("missing_field") or ""
    proofs = []
    if proof is None or not proof.filename:
        errors["proof"] = catalogue.rule_message("missing_field") or ""
    else:
        data = await proof.read(MAX_PROOF_BYTES + 1)
        if len(data) > MAX_PROOF_BYTES or not data:
            errors["proof"] = catalogue.rule_message("file_too_large") or ""
        else:
            proofs.append(
                {
                    "kind": proof_kind if proof_kind in PROOF_KINDS else "other",
                    "filename": proof.filename[:120],
                    "content_base64": base64.b64encode(data).decode("ascii"),
                }
            )
    changes = {k: values[k] for k in KEY_FIELDS if values[k]}
    student = await page.api.get(school, f"/api/v1/schools/{school.code}/students/{number}")
    context = {"student": student, "values": values, "proof_kinds": PROOF_KINDS}
    if errors:
        return page.form_error("key_field_change.html", errors=errors, **context)
    try:
        await page.api.post(
            school,
            f"/api/v1/schools/{school.code}/students/{number}/key-field-changes",
            json={"changes": changes, "reason": values["reason"], "proofs": proofs},
        )
    except ApiError as error:
        if error.fields:
            errors = {
                f.field.split(".")[-1]: catalogue.field_message(f.rule, f.message)
                for f in error.fields
            }
            if set(errors) - set(values):
                errors = {"changes": "；".join(errors.values())}
            return page.form_error("key_field_change.html", errors=errors, **context)
        return page.form_error(
            "key_field_change.html", errors={}, error=catalogue.refusal(error), **context
        )
    page.session.say(catalogue.rule_message("key_field_change_sent") or "")
    return page.redirect(f"/students/{number}")
