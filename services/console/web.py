"""What every page shares: the session middleware, security headers, CSRF, templates."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console import catalogue
from services.console.api import Api, Directory
from services.console.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    Session,
    SessionCodec,
    now,
)
from services.console.settings import ConsoleSettings
from shared.federation.config import UnitRef

HERE = Path(__file__).parent
BEIJING = timezone(timedelta(hours=8))
# No inline script or style anywhere: htmx and the stylesheet come from this origin. Frames
# show a task's proofs, served by the console itself (which lets only its own pages frame them).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class Console:
    """The console's parts, kept on ``app.state.console``."""

    def __init__(self, settings: ConsoleSettings, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory
        self.codec = SessionCodec(settings.session_secret())
        self.http: httpx.AsyncClient | None = None
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters.update(
            zh_date=zh_date,
            zh_datetime=zh_datetime,
            grade=grade_name,
            word=catalogue.word,
            article=catalogue.article,
            term=catalogue.term,
        )
        env.globals.update(field_message=catalogue.field_message, reason=catalogue.reason)
        env.globals.update(word=catalogue.word, unit_name=directory.unit_name)


class SessionMiddleware:
    """Loads the session cookie into ``scope["state"]``, writes it back when it changed, and
    adds the security headers to every answer (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, codec: SessionCodec, secure: bool, idle: int) -> None:
        self.app = app
        self.codec = codec
        self.secure = secure
        self.idle = idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self.codec.loads(_cookie(scope, COOKIE))
        moment = now()
        if session.expired(moment, self.idle):
            session.log_out(flash=catalogue.rule_message("session_expired"))
        else:
            session.touch(moment)
        scope.setdefault("state", {})["session"] = session
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name == b"cache-control" and static:
                        continue
                    if name not in present:
                        headers.append((name, value))
                if session.changed and not static:
                    headers.append((b"set-cookie", self._cookie(session).encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, session: Session) -> str:
        parts = [
            f"{COOKIE}={self.codec.dumps(session)}",
            "Path=/",
            "HttpOnly",
            "SameSite=Strict",
        ]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return str(v)
    return None


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


class LoginRequired(Exception):
    """The page needs a logged-in user: back to the login page."""


class Page:
    """One request's view of the console: the session, the user's API, rendering."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.console = console_of(request)
        self.session = session_of(request)
        assert self.console.http is not None
        # the user's address as this console's server sees it (its own ingress's
        # X-Forwarded-For, trusted from XUEJI_HTTP_FORWARDED_ALLOW_IPS only)
        client = request.client.host if request.client else None
        if not self.console.settings.console_forward_client_address:
            client = None
        self.api = Api(self.console.http, self.console.directory, self.session.token, client)
        # logging in and changing a password go without the session's token: a refusal
        # there (401 invalid_credentials) is about the form, not an expired session
        self.public_api = Api(self.console.http, self.console.directory, None, client)

    @property
    def unit(self) -> UnitRef:
        return UnitRef.parse(self.session.unit or "")

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.update(
            request=self.request,
            session=self.session,
            csrf=self.session.csrf,
            flash=self.session.pop_flash(),
        )
        return self.console.templates.TemplateResponse(
            self.request, template, context, status_code=status_code
        )

    def form_error(self, template: str, **context: Any) -> HTMLResponse:
        """A form shown again with its errors: 200 for htmx (it swaps only 2xx), else 422."""
        return self.render(template, status_code=200 if self.htmx else 422, **context)

    def replace_page(self, template: str, **context: Any) -> HTMLResponse:
        """Another page in answer to a form (e.g. the password change after a login): htmx
        swaps the whole main area instead of the form."""
        response = self.form_error(template, **context)
        if self.htmx:
            response.headers.update(
                {"HX-Retarget": "main", "HX-Reselect": "main", "HX-Reswap": "outerHTML"}
            )
        return response

    def redirect(self, url: str) -> Response:
        """After a successful POST: a full navigation (the back button then works)."""
        if self.htmx:
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)


async def anyone(request: Request) -> Page:
    return Page(request)


async def logged_in(request: Request) -> Page:
    page = Page(request)
    if not page.session.logged_in:
        raise LoginRequired()
    return page


async def csrf_checked(request: Request) -> None:
    """Every POST carries the session's CSRF token (form field or htmx header)."""
    session = session_of(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(status_code=403, detail="csrf")


AnyonePage = Annotated[Page, Depends(anyone)]
UserPage = Annotated[Page, Depends(logged_in)]
CSRF = Depends(csrf_checked)

Handler = Callable[[Request, Exception], Awaitable[Response]]


def zh_date(value: object) -> str:
    """2026年9月1日."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.astimezone(BEIJING).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def zh_datetime(value: object) -> str:
    """2026年9月7日 14:05 (Beijing time)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        local = moment.astimezone(BEIJING)
        return f"{zh_date(local.date())} {local:%H:%M}"
    return zh_date(value)


def grade_name(value: object) -> str:
    try:
        number = int(str(value))
    except ValueError:
        return str(value)
    return catalogue.word("grade", number)
