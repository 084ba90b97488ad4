"""Logging in (with the first-login password change), logging out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.console import catalogue
from services.console.api import ApiError, UnknownUnit, unit_of_code
from services.console.session import now, token_claims
from services.console.web import CSRF, AnyonePage

router = APIRouter()

Text = Annotated[str, Form(max_length=200)]


def _safe_next(target: str | None) -> str:
    """Only a path of this console (never another site) after logging in."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
async def login_form(page: AnyonePage, next: str | None = None) -> Response:
    if page.session.logged_in:
        return page.redirect(_safe_next(next))
    return page.render("login.html", values={}, next=_safe_next(next))


@router.post("/login", dependencies=[CSRF])
async def login(
    page: AnyonePage,
    unit_code: Annotated[str, Form(max_length=20)] = "",
    username: Text = "",
    password: Text = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    values = {"unit_code": unit_code.strip(), "username": username.strip()}
    unit = unit_of_code(unit_code)
    if unit is None:
        return page.form_error(
            "login.html", values=values, next=next, error=catalogue.rule_message("unknown_unit")
        )
    try:
        answer = await page.public_api.post(
            unit,
            "/api/v1/auth/token",
            data={"username": values["username"], "password": password},
        )
    except UnknownUnit:
        return page.form_error(
            "login.html", values=values, next=next, error=catalogue.rule_message("unknown_unit")
        )
    except ApiError as error:
        if error.rule == "password_expired":
            return page.replace_page(
                "password.html",
                values=values,
                first_login=True,
                notice=catalogue.refusal(error),
            )
        return page.form_error(
            "login.html", values=values, next=next, error=catalogue.refusal(error)
        )
    token = str(answer["access_token"])
    page.session.log_in(token, token_claims(token), now())
    failed = answer.get("failed_logins")
    if isinstance(failed, dict) and failed.get("message"):
        page.session.say(str(failed["message"]))  # someone failed as this account meanwhile
    return page.redirect(_safe_next(next))


@router.get("/password")
async def password_form(page: AnyonePage) -> Response:
    values = {"unit_code": page.session.code, "username": page.session.username or ""}
    return page.render("password.html", values=values, first_login=False)


@router.post("/password", dependencies=[CSRF])
async def change_password(
    page: AnyonePage,
    unit_code: Annotated[str, Form(max_length=20)] = "",
    username: Text = "",
    password: Text = "",
    new_password: Text = "",
    new_password_again: Text = "",
    first_login: Annotated[bool, Form()] = False,
) -> Response:
    values = {"unit_code": unit_code.strip(), "username": username.strip()}
    unit = unit_of_code(unit_code)

    def again(message: str | None) -> Response:
        return page.form_error(
            "password.html", values=values, first_login=first_login, error=message
        )

    if unit is None:
        return again(catalogue.rule_message("unknown_unit"))
    if new_password != new_password_again:
        return again(catalogue.rule_message("password_mismatch"))
    body = {"username": values["username"], "password": password, "new_password": new_password}
    try:
        await page.public_api.post(unit, "/api/v1/auth/password", json=body)
        answer = await page.public_api.post(
            unit,
            "/api/v1/auth/token",
            data={"username": values["username"], "password": new_password},
        )
    except UnknownUnit:
        return again(catalogue.rule_message("unknown_unit"))
    except ApiError as error:
        return again(catalogue.refusal(error))
    token = str(answer["access_token"])
    page.session.log_in(token, token_claims(token), now())
    page.session.say(catalogue.word("ui", "password_changed"))
    return page.redirect("/")


@router.post("/logout", dependencies=[CSRF])
async def logout(page: AnyonePage) -> Response:
    page.session.log_out(flash=catalogue.rule_message("logged_out"))
    return page.redirect("/login")
