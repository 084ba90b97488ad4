"""National's register of client systems for status checks (学籍状态核验接入, N2025 art. 24):
a national operator registers another government system with its declared purpose and the
claims that purpose may ask, hands over the secret shown once, and revokes a system. The API
(``/api/v1/status-clients``) checks and audits each step."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import NATIONAL, Tier

router = APIRouter()

# The claims a purpose may allow (the status credential's vocabulary, decision 0036).
CLAIMS = ("enrolled", "status", "grade", "county", "province", "school", "name")


def _national(page: Page) -> None:
    if page.session.tier != Tier.NATIONAL.value:
        raise HTTPException(status_code=404)


async def _clients(page: Page) -> list[dict[str, Any]]:
    found = await page.api.get(NATIONAL, "/api/v1/status-clients")
    items: list[dict[str, Any]] = found["items"]
    return items


@router.get("/clients")
async def clients(page: UserPage) -> Response:
    _national(page)
    return page.render(
        "clients.html", clients=await _clients(page), claims=CLAIMS, values={}, error=None
    )


@router.post("/clients", dependencies=[CSRF])
async def register(request: Request, page: UserPage) -> Response:
    _national(page)
    form = await request.form()
    values = {
        name: str(form.get(name) or "").strip()
        for name in ("client_id", "name", "purpose", "basis", "rate_per_minute")
    }
    chosen = [str(c) for c in form.getlist("claims") if str(c) in CLAIMS]
    values["claims"] = chosen  # type: ignore[assignment]
    rate = values["rate_per_minute"]
    body = {
        "client_id": values["client_id"],
        "name": values["name"],
        "purposes": [{"code": values["purpose"], "claims": chosen, "basis": values["basis"]}],
        "rate_per_minute": int(rate) if rate.isdigit() else 600,
    }
    try:
        registered = await page.api.post(NATIONAL, "/api/v1/status-clients", json=body)
    except ApiError as refused:
        if refused.status in (401, 404):
            raise
        error = catalogue.refusal(refused)
        if refused.fields:
            names = "、".join(
                sorted({catalogue.word("client_field", f.field) for f in refused.fields})
            )
            error = catalogue.word("rights", "client_fields").format(fields=names)
        return page.form_error(
            "clients.html", clients=await _clients(page), claims=CLAIMS, values=values, error=error
        )
    # the secret is shown in the form's answer this once (htmx swaps the form), never kept
    return page.render(
        "clients.html",
        clients=await _clients(page),
        claims=CLAIMS,
        values={},
        error=None,
        registered=registered,
    )


@router.post("/clients/{client_id}/revocation", dependencies=[CSRF])
async def revoke(page: UserPage, client_id: str) -> Response:
    _national(page)
    if len(client_id) > 40:
        raise HTTPException(status_code=404)
    await page.api.post(NATIONAL, f"/api/v1/status-clients/{client_id}/revocation")
    page.session.say(catalogue.word("rights", "client_revoked"))
    return page.redirect("/clients")
