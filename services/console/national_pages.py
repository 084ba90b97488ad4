"""The national officer's pages (教育部): the review queue of suspect duplicates, side by side
with the registry entry each resembles; the August 10 promotion with its confirmation step and
report (LS 3(一)); the term re-verification campaigns and their findings (N2013 art. 24); a
registry look-up by student number.

Every page calls national's API with the officer's own token: what the API refuses (a role the
account lacks, a foreign object) is the page's refusal, and the identity document is masked
as the API masks it for the officer's roles.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import NATIONAL, Tier, UnitRef

router = APIRouter(prefix="/national")

# The fields a suspect rule compares (domain/dedup.py: name, gender and birth date; the
# document tells the rules apart), then what else the officer weighs.
COMPARED = (
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "grade",
    "enrolled_on",
)
STUDENT_NUMBER = re.compile(r"^[GL][0-9A-Z]{18}$")
TERM = r"^[0-9]{4}-(spring|autumn)$"


def _national(page: Page) -> UnitRef:
    if page.session.tier != Tier.NATIONAL.value:
        raise HTTPException(status_code=404)
    return NATIONAL


async def national_home(page: Page) -> Response:
    """The national officer's home: the open reviews first, then the other work."""
    reviews = await page.api.get(NATIONAL, "/api/v1/reviews", params={"status": "open"})
    return page.render("national_home.html", reviews=reviews["items"])


# -- the review queue -------------------------------------------------------------------------


@router.get("/reviews")
async def review_list(
    page: UserPage, status: Annotated[str, Query(pattern="^(open|issued|rejected)$")] = "open"
) -> Response:
    unit = _national(page)
    found = await page.api.get(unit, "/api/v1/reviews", params={"status": status, "limit": 100})
    return page.render("national_reviews.html", reviews=found["items"], status=status)


async def _side_by_side(page: Page, review_id: uuid.UUID) -> dict[str, Any]:
    """The review and the registry entry it resembles, field by field, the equal ones marked
    (the officer's read of the entry is audited by national like any other)."""
    review = await page.api.get(NATIONAL, f"/api/v1/reviews/{review_id}")
    number = review["matched"]["student_number"]
    entry = await page.api.get(NATIONAL, f"/api/v1/registry/{number}")
    if "superseded_by" in entry:  # an L number replaced by a G number meanwhile
        entry = await page.api.get(NATIONAL, f"/api/v1/registry/{entry['superseded_by']}")
    applicant = review["applicant"]
    rows = [
        {"field": name, "applicant": applicant.get(name), "entry": entry.get(name)}
        for name in COMPARED
    ]
    for row in rows:
        row["same"] = row["applicant"] is not None and row["applicant"] == row["entry"]
    return {"review": review, "entry": entry, "rows": rows}


@router.get("/reviews/{review_id}")
async def review(page: UserPage, review_id: uuid.UUID) -> Response:
    _national(page)
    return page.render("national_review.html", **await _side_by_side(page, review_id))


@router.post("/reviews/{review_id}/decision", dependencies=[CSRF])
async def decide_review(
    page: UserPage,
    review_id: uuid.UUID,
    decision: Annotated[str, Form(pattern="^(issue|reject)$")],
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """同一人 (``reject``: the applicant is the registered student) or 不同人 (``issue``)."""
    unit = _national(page)
    if not reason.strip():
        context = await _side_by_side(page, review_id)
        error = catalogue.word("ui", "review_reason_required")
        return page.form_error("national_review.html", error=error, **context)
    body = {"decision": decision, "reason": reason.strip()}
    try:
        await page.api.post(unit, f"/api/v1/reviews/{review_id}/decision", json=body)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        context = await _side_by_side(page, review_id)
        return page.form_error("national_review.html", error=catalogue.refusal(error), **context)
    page.session.say(catalogue.word("ui", f"review_{decision}"))
    return page.redirect(f"/national/reviews/{review_id}")


# -- the August 10 promotion ------------------------------------------------------------------


@router.get("/promotion")
async def promotion(
    page: UserPage,
    school_year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
    as_of: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Step 1: the year; step 2: what the run would do (nothing changed yet) and the
    confirmation; the report once it ran."""
    unit = _national(page)
    day = as_of.strip()
    values = {"school_year": school_year or "", "as_of": day}
    if school_year is None:
        return page.render("national_promotion.html", values=values, preview=None, error=None)
    params = {}
    if day:
        try:
            params["as_of"] = date.fromisoformat(day).isoformat()
        except ValueError:
            error = catalogue.rule_message("date_parsing")
            return page.form_error(
                "national_promotion.html", values=values, preview=None, error=error
            )
    try:
        preview = await page.api.get(
            unit, f"/api/v1/operations/promotions/{school_year}/preview", params=params
        )
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        return page.form_error(
            "national_promotion.html", values=values, preview=None, error=catalogue.refusal(error)
        )
    return page.render("national_promotion.html", values=values, preview=preview, error=None)


@router.post("/promotion", dependencies=[CSRF])
async def run_promotion(
    page: UserPage,
    school_year: Annotated[int, Form(ge=2000, le=2999)],
    as_of: Annotated[date, Form()],
    confirmed: Annotated[str, Form(pattern="^yes$")],
) -> Response:
    """Step 3: the run, for the day the preview showed; then its report."""
    unit = _national(page)
    body = {"school_year": school_year, "as_of": as_of.isoformat()}
    try:
        await page.api.post(unit, "/api/v1/operations/promotions", json=body)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        values = {"school_year": school_year, "as_of": as_of.isoformat()}
        return page.replace_page(
            "national_promotion.html", values=values, preview=None, error=catalogue.refusal(error)
        )
    page.session.say(catalogue.word("ui", "promotion_done"))
    return page.redirect(f"/national/promotion/{school_year}")


@router.get("/promotion/{school_year}")
async def promotion_report(page: UserPage, school_year: int) -> Response:
    unit = _national(page)
    if not 2000 <= school_year <= 2999:
        raise HTTPException(status_code=404)
    report = await page.api.get(unit, f"/api/v1/operations/promotions/{school_year}")
    return page.render("national_promotion_report.html", report=report)


# -- verification campaigns -------------------------------------------------------------------


@router.get("/verification")
async def campaigns(page: UserPage) -> Response:
    unit = _national(page)
    found = await page.api.get(unit, "/api/v1/verification-campaigns", params={"scope": "CN"})
    return page.render("national_campaigns.html", campaigns=found["items"], values={}, error=None)


@router.post("/verification", dependencies=[CSRF])
async def open_campaign(
    page: UserPage,
    term: Annotated[str, Form(max_length=12)] = "",
    scope: Annotated[str, Form(pattern="^(CN|[1-8][0-9])$")] = "CN",
) -> Response:
    unit = _national(page)
    values = {"term": term.strip(), "scope": scope}

    async def again(message: str | None) -> Response:
        found = await page.api.get(unit, "/api/v1/verification-campaigns", params={"scope": "CN"})
        return page.form_error(
            "national_campaigns.html", campaigns=found["items"], values=values, error=message
        )

    if not re.match(TERM, values["term"]):
        return await again(catalogue.rule_message("invalid_term"))
    try:
        opened = await page.api.post(unit, "/api/v1/operations/verification-campaigns", json=values)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        return await again(catalogue.refusal(error))
    page.session.say(catalogue.word("ui", "campaign_opened").format(schools=opened["schools"]))
    return page.redirect(f"/national/verification/{opened['campaign_id']}")


@router.get("/verification/{campaign_id}")
async def campaign(page: UserPage, campaign_id: uuid.UUID) -> Response:
    unit = _national(page)
    found = await page.api.get(unit, f"/api/v1/verification-campaigns/{campaign_id}")
    return page.render("national_campaign.html", campaign=found)


# -- the registry look-up ---------------------------------------------------------------------


@router.get("/registry")
async def registry(page: UserPage, number: Annotated[str, Query(max_length=30)] = "") -> Response:
    """A student's basic registration by number (the document as the API shows it to the
    officer's roles); an old L number leads to its G number."""
    unit = _national(page)
    number = number.strip().upper()
    if not number:
        return page.render("national_registry.html", number="", entry=None, error=None)
    if not STUDENT_NUMBER.match(number):
        error = catalogue.rule_message("student_number_format")
        return page.render("national_registry.html", number=number, entry=None, error=error)
    try:
        entry = await page.api.get(unit, f"/api/v1/registry/{number}")
    except ApiError as error:
        if error.status != 404:
            raise
        return page.render(
            "national_registry.html", number=number, entry=None, error=catalogue.refusal(error)
        )
    return page.render("national_registry.html", number=number, entry=entry, error=None)
