"""School merger and closure (学校合并、撤销: N2013 art. 9; decisions 0043, 0049): the operator
of a school's registry authority — its county, or the city or province running it — closes the
school into the merged school, or the school the authority designates, and reads the report
(students moved, students refused with the reason)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()

FIELDS = ("from_school", "to_school", "kind", "closed_on")


# the authority tiers and the segment of their routes
SEGMENTS = {Tier.COUNTY: "counties", Tier.CITY: "cities", Tier.PROVINCE: "provinces"}


def _authority(page: Page) -> UnitRef:
    """The officer's unit, if it is a registry authority (a county, city or province)."""
    if page.unit.tier not in SEGMENTS:
        raise HTTPException(status_code=404)
    return page.unit


def _path(unit: UnitRef) -> str:
    return f"/api/v1/{SEGMENTS[unit.tier]}/{unit.code}/school-mergers"


def _schools(page: Page, unit: UnitRef) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The schools the unit may close (it is their registry authority), and those of its
    province that may receive their students."""
    federation = page.console.directory.federation
    province = unit.code[:2]
    closing = [{"code": s.code, "name": s.name} for s in federation.schools_run_by(unit)]
    receiving = [{"code": s.code, "name": s.name} for s in federation.schools_under(province)]
    return closing, receiving


async def _render(page: Page, unit: UnitRef, **context: Any) -> Response:
    found = await page.api.get(unit, _path(unit))
    closing, receiving = _schools(page, unit)
    values = context.pop("values", {})
    errors = context.pop("errors", {})
    template_context = dict(
        mergers=found, closing=closing, receiving=receiving, values=values, errors=errors
    )
    if errors or context.get("error"):
        return page.form_error("school_mergers.html", **template_context, **context)
    return page.render("school_mergers.html", **template_context, **context)


@router.get("/school-mergers")
async def mergers(page: UserPage) -> Response:
    unit = _authority(page)
    return await _render(page, unit, values={"kind": "merged"})


@router.post("/school-mergers", dependencies=[CSRF])
async def merge(request: Request, page: UserPage) -> Response:
    unit = _authority(page)
    form = await request.form()
    values = {key: str(form.get(key) or "").strip() for key in FIELDS}
    errors = {
        key: catalogue.rule_message("missing_field") or "" for key in FIELDS if not values[key]
    }
    if errors:
        return await _render(page, unit, values=values, errors=errors)
    try:
        answer = await page.api.post(unit, _path(unit), json=values)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        if error.fields:
            first = error.fields[0]
            field = first.field if first.field in FIELDS else "closed_on"
            return await _render(
                page,
                unit,
                values=values,
                errors={field: catalogue.field_message(first.rule, first.message)},
            )
        return await _render(page, unit, values=values, error=catalogue.refusal(error))
    return page.redirect(f"/school-mergers/{answer['merger_id']}")


@router.get("/school-mergers/{merger_id}")
async def merger(page: UserPage, merger_id: uuid.UUID) -> Response:
    unit = _authority(page)
    found = await page.api.get(unit, f"{_path(unit)}/{merger_id}")
    return page.render("school_merger.html", merger=found)
