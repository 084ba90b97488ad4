"""Accounts (N2013 art. 23; N2025 art. 24): the registrars of a unit with their training date
and last activity, sealed and dormant accounts, opening an account of the level below (its
one-time password shown once) and unsealing or unlocking one.

Accounts live at the instance hosting their unit; every call goes there with the officer's own
token, and the API decides: the unit itself and the levels above read a unit's accounts, only
the level directly above opens, unseals or unlocks one (another unit's is the API's 404).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError, UnknownUnit
from services.console.web import CSRF, Page, UserPage
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef

router = APIRouter(prefix="/accounts")

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
ROLES = ("registrar", "approver", "auditor", "operator")


def units_below(federation: Federation, unit: UnitRef) -> list[UnitRef]:
    """The units whose level directly above is ``unit`` (whose accounts it opens, unseals
    and unlocks): national's provinces; a province's cities, counties and the schools it
    runs; a city's or a county's schools."""
    if unit.tier is Tier.NATIONAL:
        return [UnitRef(tier=Tier.PROVINCE, code=p.code) for p in federation.provinces]
    if unit.tier is Tier.PROVINCE:
        cities = [UnitRef(tier=Tier.CITY, code=c.code) for c in federation.cities]
        counties = [UnitRef(tier=Tier.COUNTY, code=c.code) for c in federation.counties]
        below = [u for u in (*cities, *counties) if u.code[:2] == unit.code]
        return below + _schools_run_by(federation, unit)
    if unit.tier in (Tier.CITY, Tier.COUNTY):
        return _schools_run_by(federation, unit)
    return []


def _schools_run_by(federation: Federation, unit: UnitRef) -> list[UnitRef]:
    return [UnitRef(tier=Tier.SCHOOL, code=s.code) for s in federation.schools_run_by(unit)]


def _unit(page: Page, value: str) -> UnitRef:
    """The unit the page is about: the officer's own by default; a malformed or unknown one
    is 404 like a foreign one."""
    if not value:
        return page.unit
    try:
        ref = UnitRef.parse(value)
        page.console.directory.base_url(ref)
    except (ValueError, UnknownUnit):
        raise HTTPException(status_code=404) from None
    return ref


def state_of(account: dict[str, Any], now: datetime) -> str:
    """How the account stands, for the list (the API seals dormant accounts before it lists)."""
    if account.get("sealed_at"):
        reason = str(account.get("sealed_reason") or "")
        return "sealed_dormant" if reason.startswith("unused for") else "sealed"
    until = account.get("throttled_until")
    if until and datetime.fromisoformat(str(until).replace("Z", "+00:00")) > now:
        return "locked"
    expires = account.get("password_expires_on")
    if expires and date.fromisoformat(str(expires)) <= now.date():
        return "password_change"
    return "active"


@router.get("")
async def accounts(page: UserPage, unit: Annotated[str, Query(max_length=20)] = "") -> Response:
    own = page.unit
    ref = _unit(page, unit)
    found = await page.api.get(ref, "/api/v1/auth/accounts", params={"unit": str(ref)})
    now = datetime.now(UTC)
    items = [{**a, "state": state_of(a, now)} for a in found["items"]]
    below = units_below(page.console.directory.federation, own)
    manages = ref in below or (ref == own == NATIONAL)
    return page.render(
        "accounts.html",
        unit=ref,
        own=own,
        below=below,
        items=items,
        blocked=[a for a in items if a["state"] in ("sealed_dormant", "sealed", "locked")],
        manages=manages,
    )


@router.post("/{username}/unseal", dependencies=[CSRF])
async def unseal(
    page: UserPage, username: str, unit: Annotated[str, Form(max_length=20)]
) -> Response:
    """Unseal (or unlock) an account of the level below: its next login sets a new password."""
    ref = _unit(page, unit)
    if not USERNAME.match(username):
        raise HTTPException(status_code=404)
    await page.api.post(ref, f"/api/v1/auth/accounts/{username}/unseal")
    page.session.say(catalogue.word("ui", "account_unsealed").format(username=username))
    return page.redirect("/accounts?" + urlencode({"unit": str(ref)}))


@router.get("/new")
async def new_account(page: UserPage, unit: Annotated[str, Query(max_length=20)] = "") -> Response:
    ref = _unit(page, unit)
    values = {"unit": str(ref), "roles": ["registrar"]}
    return page.render("account_new.html", unit=ref, values=values, errors={}, error=None)


@router.post("/new", dependencies=[CSRF])
async def create_account(
    page: UserPage,
    unit: Annotated[str, Form(max_length=20)],
    username: Annotated[str, Form(max_length=60)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    full_name: Annotated[str, Form(max_length=60)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    trained_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Open the account; the page that answers shows its one-time password, once: it is
    neither kept by the console nor given again by the API (a reload is refused, the
    account exists)."""
    ref = _unit(page, unit)
    chosen = [r for r in roles or [] if r in ROLES]
    values: dict[str, Any] = {
        "unit": str(ref),
        "username": username.strip(),
        "roles": chosen,
        "full_name": full_name.strip(),
        "phone": phone.strip(),
        "trained_on": trained_on.strip(),
    }
    errors: dict[str, str] = {}
    if not USERNAME.match(values["username"]):
        errors["username"] = catalogue.rule_message("username_format") or ""
    if not chosen:
        errors["roles"] = catalogue.rule_message("roles_required") or ""
    if errors:
        return page.form_error(
            "account_new.html", unit=ref, values=values, errors=errors, error=None
        )
    body: dict[str, Any] = {"username": values["username"], "unit": str(ref), "roles": chosen}
    for name in ("full_name", "phone", "trained_on"):
        if values[name]:
            body[name] = values[name]
    try:
        created = await page.api.post(ref, "/api/v1/auth/accounts", json=body)
    except ApiError as error:
        if error.status in (401, 403, 404):
            raise
        fields = {f.field: catalogue.field_message(f.rule, f.message) for f in error.fields}
        message = None if fields else catalogue.refusal(error)
        return page.form_error(
            "account_new.html", unit=ref, values=values, errors=fields, error=message
        )
    response = page.render(
        "account_created.html",
        unit=ref,
        account=created["account"],
        password=created["one_time_password"],
    )
    if page.htmx:  # the whole main area, not the form: the address stays /accounts/new
        response.headers.update(
            {"HX-Retarget": "main", "HX-Reselect": "main", "HX-Reswap": "outerHTML"}
        )
    return response
