"""The school registrar writes archive sections 3-7 (综合素质、体质健康、获奖、资助、其他;
N2013 art. 7) of a student, one entry at a time, and a class's term results or check-up from
one sheet, with each refused row shown. Both go to the province that keeps the archive; the
kinds and their fields (the province's own items too) come from its API."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from services.console import catalogue
from services.console.api import ApiError
from services.console.records_pages import _school
from services.console.school_pages import _optional
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

WRITTEN = ("quality", "health", "awards", "aid", "other")
UPLOAD_KINDS = ("term_results", "checkup")
MAX_SHEET_BYTES = 900 * 1024  # under the province's default body limit (1 MiB)


def _province(school: UnitRef) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.code[:2])


async def _kinds(page: Page, school: UnitRef) -> list[dict[str, Any]]:
    kinds: list[dict[str, Any]] = await page.api.get(
        _province(school), f"/api/v1/schools/{school.code}/archive-kinds"
    )
    return kinds


def _entries(archive: dict[str, Any] | None, kinds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sections 3-7 of the archive, newest first, each with what it says in one line (the
    fields by their Chinese labels)."""
    labels = {k["kind"]: {f["name"]: f["label"] for f in k["fields"]} for k in kinds}
    rows = [e for e in (archive or {}).get("entries", []) if e["section"] in WRITTEN]
    return [
        {
            "on": e["occurred_on"],
            "section": catalogue.word("section", e["section"]),
            "what": e["data"].get("label") or catalogue.word("entry_kind", e["kind"]),
            "summary": _summary(e["data"], labels.get(e["kind"], {})),
            "by": _writer(e["data"].get("written_by") or {}),
        }
        for e in sorted(rows, key=lambda e: str(e["occurred_on"]), reverse=True)
    ]


def _writer(written_by: dict[str, str]) -> str:
    """Who wrote the entry: the account and its unit (ZJ art. 30)."""
    account, unit = written_by.get("account", ""), written_by.get("unit", "")
    return f"{account}（{unit}）" if account else unit


def _summary(data: dict[str, Any], labels: dict[str, str]) -> str:
    shown = {k: v for k, v in data.items() if k not in ("label", "written_by", "upload_id")}
    results = shown.pop("results", None)
    parts = [f"{labels.get(k, k)}：{v}" for k, v in shown.items()]
    if isinstance(results, dict):
        parts += [f"{subject} {score}" for subject, score in results.items()]
    return "；".join(parts)


async def _archive_page(
    page: Page, number: str, kind_name: str, values: dict[str, str], **context: Any
) -> Response:
    school = _school(page)
    archive, kinds = await asyncio.gather(
        _optional(
            page.api.get(_province(school), f"/api/v1/schools/{school.code}/archives/{number}")
        ),
        _kinds(page, school),
    )
    kind = next((k for k in kinds if k["kind"] == kind_name), kinds[0])
    render = page.form_error if context.get("errors") or context.get("error") else page.render
    return render(
        "archive_sections.html",
        number=number,
        archive=archive,
        entries=_entries(archive, kinds),
        kinds=kinds,
        kind=kind,
        values=values,
        **{"errors": {}, "error": None, **context},
    )


@router.get("/students/{student_number}/archive")
async def archive_sections(page: UserPage, student_number: str, kind: str = "") -> Response:
    """The student's sections 3-7 and the form for one kind of entry."""
    return await _archive_page(page, student_number.strip().upper(), kind, {})


@router.post("/students/{student_number}/archive", dependencies=[CSRF])
async def write_entry(request: Request, page: UserPage, student_number: str) -> Response:
    school = _school(page)
    number = student_number.strip().upper()
    form = await request.form()
    kinds = await _kinds(page, school)
    kind = next((k for k in kinds if k["kind"] == form.get("kind")), None)
    if kind is None:
        return await _archive_page(page, number, "", {}, error=catalogue.word("ui", "bad_kind"))
    values = {f["name"]: str(form.get(f"f_{f['name']}") or "").strip() for f in kind["fields"]}
    fields: dict[str, Any] = {k: v for k, v in values.items() if v}
    results = str(form.get("results") or "").strip()
    if any(f["type"] == "results" for f in kind["fields"]):
        values["results"] = results
        fields["results"] = _results(results)
    try:
        await page.api.post(
            _province(school),
            f"/api/v1/schools/{school.code}/archives/{number}/sections/{kind['section']}/entries",
            json={"kind": kind["kind"], "fields": fields},
        )
    except ApiError as error:
        if error.status in (401, 403):
            raise
        return await _archive_page(
            page, number, kind["kind"], values, error=catalogue.refusal(error)
        )
    return page.redirect(f"/students/{number}/archive?kind={kind['kind']}")


def _results(text: str) -> dict[str, str]:
    """``语文 95，数学 88`` (one subject a line or separated by commas) → subject → result."""
    pairs = [p.strip() for p in text.replace("，", "\n").replace(",", "\n").splitlines()]
    found: dict[str, str] = {}
    for pair in pairs:
        subject, _, result = pair.rpartition(" ")
        if subject.strip() and result.strip():
            found[subject.strip()] = result.strip()
    return found


# --- a class's sheet ---------------------------------------------------------------------------


@router.get("/archive-uploads")
async def upload_form(page: UserPage) -> Response:
    _school(page)
    return page.render(
        "archive_upload.html", kinds=UPLOAD_KINDS, values={}, errors={}, error=None, report=None
    )


@router.post("/archive-uploads", dependencies=[CSRF])
async def upload(request: Request, page: UserPage) -> Response:
    """Send the sheet to the province; show what it stored and every refused row."""
    school = _school(page)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("kind", "term")}
    sheet = form.get("file")
    errors: dict[str, str] = {}
    if values["kind"] not in UPLOAD_KINDS:
        errors["kind"] = catalogue.rule_message("missing_field") or ""
    if values["kind"] == "term_results" and not values["term"]:
        errors["term"] = catalogue.rule_message("archive_term_required") or ""
    content = b""
    if not isinstance(sheet, UploadFile) or not sheet.filename:
        errors["file"] = catalogue.rule_message("missing_field") or ""
    else:
        content = await sheet.read(MAX_SHEET_BYTES + 1)
        if len(content) > MAX_SHEET_BYTES:
            errors["file"] = catalogue.rule_message("file_too_large") or ""

    def again(**context: Any) -> Response:
        context = {"errors": errors, "error": None, "report": None, **context}
        return page.form_error("archive_upload.html", kinds=UPLOAD_KINDS, values=values, **context)

    if errors:
        return again()
    assert isinstance(sheet, UploadFile)
    data = {"kind": values["kind"]} | ({"term": values["term"]} if values["term"] else {})
    try:
        report = await page.api.post(
            _province(school),
            f"/api/v1/schools/{school.code}/archive-uploads",
            files={"file": (sheet.filename, content)},
            data=data,
        )
    except ApiError as error:
        if error.status in (401, 403):
            raise
        return again(error=catalogue.refusal(error))
    return page.render(
        "archive_upload.html",
        kinds=UPLOAD_KINDS,
        values=values,
        errors={},
        error=None,
        report=report,
    )
