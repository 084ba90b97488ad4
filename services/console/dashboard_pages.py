"""The statistics dashboard of every level (issue 18; decision 0039): headcounts by grade and
by status, movements over the last four weeks, overdue steps of the units below, data quality
and early warnings, each chart drawn from the table under it (ECharts, no inline script) with
its xlsx download, and a drill-down province → county → school.

Every number comes from the tiers' statistics APIs with the officer's own token: the basic
figures from national (which holds the registry), the non-basic ones from the province (which
holds the archives); a county officer also sees the figures both sent the county, from the
county's own service, with when they are as of (decision 0047). The API decides what the
officer may see (its own unit and those below, 404 beside); the console adds nothing to it.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from services.console.api import ApiError
from services.console.web import Page, UserPage
from shared.clock import CHINA
from shared.federation.config import NATIONAL, Tier, UnitRef

router = APIRouter()

HEADCOUNT = "/api/v1/statistics/headcount"
MOVEMENTS = "/api/v1/statistics/movements"
SCHOOLS = "/api/v1/statistics/schools"
SCHOOLS_PAGE = 50  # a county's schools, a page at a time (by code; a county may run 1,000+)
# the units a level drills down to, and the dimension that lists them
BELOW = {
    Tier.NATIONAL: "province",
    Tier.PROVINCE: "county",
    Tier.CITY: "county",
    Tier.COUNTY: "school",
}
DOWNLOADS = {"grade": "grade", "status": "status", "below": None, "movements": None}
DAILY_KINDS = ("registered", "transfer_in", "transfer_out", "suspended", "dropout", "graduated")
WEEKS = 4


def _today() -> date:
    """Beijing's date: the movements are dated by when they happened."""
    return datetime.now(CHINA).date()


def _target(page: Page, unit: str | None) -> UnitRef:
    if not unit:
        return page.unit
    try:
        return UnitRef.parse(unit)
    except ValueError as exc:
        raise HTTPException(status_code=404) from exc


def _below_unit(tier: Tier, code: str) -> UnitRef:
    child = {"province": Tier.PROVINCE, "county": Tier.COUNTY, "school": Tier.SCHOOL}[BELOW[tier]]
    return UnitRef(tier=child, code=code)


def _rows(found: dict[str, Any], dimension: str) -> list[tuple[Any, int | None]]:
    return [(r["keys"][dimension], r["students"]) for r in found["rows"]]


async def _extended(page: Page, unit: UnitRef) -> dict[str, Any] | None:
    """The province's non-basic figures, for a unit inside a province (national: none)."""
    if unit.tier is Tier.NATIONAL or page.unit.tier is Tier.NATIONAL:
        return None
    province = UnitRef(tier=Tier.PROVINCE, code=unit.code[:2])
    try:
        found: dict[str, Any] = await page.api.get(
            province, "/api/v1/statistics/extended", params={"unit": str(unit)}
        )
    except ApiError:
        return None
    return found


async def _received(page: Page, unit: UnitRef) -> dict[str, Any] | None:
    """A county officer's own county: the figures national and the province sent it, as its
    own tier keeps them (decision 0047), per school, with when they are as of."""
    if unit.tier is not Tier.COUNTY or unit != page.unit:
        return None
    try:
        found: dict[str, Any] = await page.api.get(
            unit, "/api/v1/statistics/received", params={"unit": str(unit)}
        )
    except ApiError:
        return None
    items = {i["kind"]: i for i in found["items"]}
    schools: dict[str, dict[str, Any]] = {}

    def school(code: str) -> dict[str, Any]:
        return schools.setdefault(
            code,
            {"code": code, "enrolled": 0, "total": 0, "migrant": None}
            | {"home_instruction": None, "yi_track": None},
        )

    basic, extended = items.get("county_figures"), items.get("county_extended")
    for code, _grade, _gender, status, n in basic["figures"]["rows"] if basic else ():
        row = school(code)
        row["total"] += n
        row["enrolled"] += n if status == "enrolled" else 0
    for code, _students, migrant, home, yi in extended["figures"]["rows"] if extended else ():
        school(code).update(migrant=migrant, home_instruction=home, yi_track=yi)
    return {
        "schools": [schools[c] for c in sorted(schools)],
        "basic_as_of": basic["as_of"] if basic else None,
        "extended_at": extended["computed_at"] if extended else None,
    }


@router.get("/dashboard")
async def dashboard(
    page: UserPage,
    unit: str | None = None,
    q: Annotated[str, Query(max_length=40)] = "",
    after: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
) -> Response:
    """The unit's figures (default: the officer's own unit); a county's schools 50 a page by
    code (``after`` the last code of the page before), searched by code or name (``q``)."""
    target = _target(page, unit)
    api, params = page.api, {"unit": str(target)}
    today = _today()
    start = today - timedelta(weeks=WEEKS) + timedelta(days=1)
    below_by = BELOW.get(target.tier)
    q = q.strip()

    async def units_below() -> dict[str, Any] | None:
        if below_by is None:
            return None
        if below_by == "school":  # one page of the county's schools, counted for that page
            paging = {"q": q, "limit": str(SCHOOLS_PAGE)} | ({"after": after} if after else {})
            schools: dict[str, Any] = await api.get(NATIONAL, SCHOOLS, params=params | paging)
            return schools
        found: dict[str, Any] = await api.get(NATIONAL, HEADCOUNT, params=params | {"by": below_by})
        return found

    # the calls are independent: asked together, the page waits for the slowest, not the sum
    (
        by_grade,
        by_status,
        found,
        moves,
        overdue,
        quality,
        alerts,
        extended,
        received,
    ) = await asyncio.gather(
        api.get(NATIONAL, HEADCOUNT, params=params | {"by": "grade"}),
        api.get(NATIONAL, HEADCOUNT, params=params | {"by": "status"}),
        units_below(),
        api.get(
            NATIONAL,
            MOVEMENTS,
            params=params | {"from": start.isoformat(), "to": today.isoformat()},
        ),
        api.get(NATIONAL, "/api/v1/statistics/overdue", params=params),
        api.get(NATIONAL, "/api/v1/statistics/quality", params=params),
        api.get(NATIONAL, "/api/v1/statistics/alerts", params=params),
        _extended(page, target),
        _received(page, target),
    )
    below = _below(page, target, found)
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    daily = [
        (d, [moves["daily"].get(d.isoformat(), {}).get(k, 0) for k in DAILY_KINDS]) for d in days
    ]
    term_reports: list[dict[str, Any]] = []
    if target.tier is Tier.COUNTY and moves.get("term_reports"):
        term_reports = (await api.get(target, moves["term_reports"]))["items"]
    return page.render(
        "dashboard.html",
        term_reports=term_reports,
        target=target,
        target_name=page.console.directory.unit_name(target),
        parent=_parent(page, target),
        by_grade=_rows(by_grade, "grade"),
        by_status=_rows(by_status, "status"),
        total=by_grade["total"],
        suppressed=by_grade["suppressed"],
        below=below,
        below_dimension=below_by,
        schools=_schools_paging(target, found, q, after) if below_by == "school" else None,
        moves=moves,
        kinds=DAILY_KINDS,
        daily=daily,
        overdue=overdue["items"],
        quality=quality,
        alerts=alerts["items"],
        extended=extended,
        received=received,
    )


def _below(
    page: Page, target: UnitRef, found: dict[str, Any] | None
) -> list[tuple[UnitRef, str, int | None]]:
    """The units one level down with their students: a page of schools (named by the API)
    or every province / county."""
    below_by = BELOW.get(target.tier)
    if found is None or below_by is None:
        return []
    if below_by == "school":
        return [
            (UnitRef(tier=Tier.SCHOOL, code=r["code"]), r["name"], r["students"])
            for r in found["rows"]
        ]
    units = [(_below_unit(target.tier, code), n) for code, n in _rows(found, below_by)]
    return [(child, page.console.directory.unit_name(child), n) for child, n in units]


def _schools_paging(
    target: UnitRef, found: dict[str, Any] | None, q: str, after: str | None
) -> dict[str, Any]:
    """How many schools the search found, and the links to the first and the next page."""

    def link(**extra: str) -> str:
        return "/dashboard?" + urlencode({"unit": str(target)} | ({"q": q} if q else {}) | extra)

    next_after = found["next_after"] if found else None
    return {
        "q": q,
        "matching": found["matching"] if found else 0,
        "size": SCHOOLS_PAGE,
        "first_url": link() if after else None,
        "next_url": link(after=next_after) if next_after else None,
    }


def _parent(page: Page, target: UnitRef) -> UnitRef | None:
    """One level up, if the officer's own unit is above the unit shown."""
    if target == page.unit:
        return None
    if target.tier is Tier.SCHOOL:
        school = page.console.directory.federation.school(target.code)
        return UnitRef(tier=Tier.COUNTY, code=school.county) if school else None
    if target.tier in (Tier.COUNTY, Tier.CITY):
        return UnitRef(tier=Tier.PROVINCE, code=target.code[:2])
    if target.tier is Tier.PROVINCE:
        return NATIONAL
    return None


@router.get("/dashboard/download")
async def download(
    page: UserPage,
    what: Annotated[str, Query(pattern="^(grade|status|below|movements)$")],
    unit: str | None = None,
) -> Response:
    """The figures of one chart as the API's own workbook (counts only: no approval)."""
    target = _target(page, unit)
    params: dict[str, str] = {"unit": str(target), "format": "xlsx"}
    if what == "movements":
        today = _today()
        start = today - timedelta(weeks=WEEKS) + timedelta(days=1)
        found = await page.api.request(
            "GET", NATIONAL, MOVEMENTS, params=params | {"from": str(start), "to": str(today)}
        )
    else:
        dimension = DOWNLOADS[what] or BELOW.get(target.tier)
        if dimension is None:
            raise HTTPException(status_code=404)
        found = await page.api.request(
            "GET", NATIONAL, HEADCOUNT, params=params | {"by": dimension}
        )
    name = f"{what}-{target.code}.xlsx"
    return Response(
        found.content,
        media_type=found.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
