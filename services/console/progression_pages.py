"""Progressions in (升学): the receiving registrar admits a cohort of graduates in one request
— every graduate of a school in a year, or a pasted list — and follows each student's outcome.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

FIELDS = ("from_school", "from_school_other", "graduation_year", "students")


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


def _graduating_schools(page: Page, school: UnitRef) -> list[dict[str, str]]:
    """The schools of this one's city whose graduates may come here (those of the stage
    before), through the county index: a country's ~250,000 primary schools are no list to
    pick from. A school elsewhere is named by its code (``from_school_other``)."""
    federation = page.console.directory.federation
    here = federation.school(school.code)
    if here is None:
        return []
    before = {"junior": {"primary"}, "senior": {"junior", "nine_year"}}.get(here.stage, set())
    return [
        {"code": s.code, "name": s.name}
        for s in federation.schools_under(here.city)
        if s.stage in before
    ]


@router.get("/progressions")
async def progressions(page: UserPage) -> Response:
    school = _school(page)
    found = await page.api.get(
        school, f"/api/v1/schools/{school.code}/progressions", params={"limit": 50}
    )
    return page.render(
        "progressions.html",
        progressions=found,
        schools=_graduating_schools(page, school),
        values={},
        errors={},
    )


@router.post("/progressions", dependencies=[CSRF])
async def start_progression(request: Request, page: UserPage) -> Response:
    school = _school(page)
    form = await request.form()
    values = {key: str(form.get(key) or "").strip() for key in FIELDS}
    mode = str(form.get("mode") or "cohort")

    async def again(**context: Any) -> Response:
        found = await page.api.get(
            school, f"/api/v1/schools/{school.code}/progressions", params={"limit": 50}
        )
        return page.form_error(
            "progressions.html",
            progressions=found,
            schools=_graduating_schools(page, school),
            values=values | {"mode": mode},
            **context,
        )

    chosen, typed = values["from_school"], values["from_school_other"]
    body: dict[str, Any] = {"from_school": typed or chosen}
    errors: dict[str, str] = {}
    if not (typed or chosen):
        errors["from_school"] = catalogue.rule_message("missing_field") or ""
    elif typed and chosen and typed != chosen:
        errors["from_school"] = "请只选择或填写一所毕业学校。"
    if mode == "list":
        students = [s for s in re.split(r"[\s,，;；]+", values["students"]) if s]
        if not students:
            errors["students"] = catalogue.rule_message("missing_field") or ""
        body["students"] = students
    elif values["graduation_year"].isdigit():
        body["graduation_year"] = int(values["graduation_year"])
    else:
        errors["graduation_year"] = catalogue.rule_message("missing_field") or ""
    if errors:
        return await again(errors=errors)
    try:
        answer = await page.api.post(
            school, f"/api/v1/schools/{school.code}/progressions", json=body
        )
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        if error.fields:
            first = error.fields[0]
            return await again(
                errors={"students": catalogue.field_message(first.rule, first.message)}
            )
        return await again(errors={}, error=catalogue.refusal(error))
    return page.redirect(f"/progressions/{answer['progression_id']}")


@router.get("/progressions/{progression_id}")
async def progression(page: UserPage, progression_id: uuid.UUID) -> Response:
    school = _school(page)
    found = await page.api.get(school, f"/api/v1/progressions/{progression_id}")
    template = "_progression_items.html" if page.htmx else "progression.html"
    return page.render(template, progression=found)
