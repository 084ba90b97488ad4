"""The console's FastAPI app: pages, static assets, and how failures are shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.console import (
    account_pages,
    archive_pages,
    audit_pages,
    auth_pages,
    authority_pages,
    catalogue,
    certificate_pages,
    client_pages,
    dashboard_pages,
    export_task_pages,
    merger_pages,
    national_pages,
    people_pages,
    pledge_pages,
    progression_pages,
    records_pages,
    school_pages,
    transfer_pages,
    verify_pages,
)
from services.console.api import ApiError, Directory, SessionExpired
from services.console.settings import ConsoleSettings
from services.console.web import HERE, Console, LoginRequired, Page, SessionMiddleware
from shared.federation.config import load_federation


def build_app(settings: ConsoleSettings) -> FastAPI:
    federation = load_federation(settings.federation_config)
    console = Console(settings, Directory(federation, settings.console_instance_urls))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.console_api_timeout) as http:
            console.http = http
            yield
            console.http = None

    app = FastAPI(
        title="学籍管理工作台",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = console
    app.add_middleware(
        SessionMiddleware,
        codec=console.codec,
        secure=settings.console_secure_cookie,
        idle=settings.console_idle_seconds,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    modules = (
        auth_pages,
        people_pages,
        school_pages,
        transfer_pages,
        progression_pages,
        records_pages,
        archive_pages,
        authority_pages,
        merger_pages,
        verify_pages,
        national_pages,
        account_pages,
        audit_pages,
        certificate_pages,
        dashboard_pages,
        pledge_pages,
        export_task_pages,
        client_pages,
    )
    for module in modules:
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: Exception) -> Response:
        target = request.url.path
        return _to_login(request, f"/login?next={quote(target)}")

    @app.exception_handler(SessionExpired)
    async def session_expired(request: Request, _exc: Exception) -> Response:
        page = Page(request)
        page.session.log_out(flash=catalogue.rule_message("session_expired"))
        return _to_login(request, "/login")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        page = Page(request)
        status = exc.status if exc.status in (403, 404, 409, 422, 503) else 502
        return page.render(
            "error.html",
            status_code=status,
            status=exc.status,
            message=catalogue.refusal(exc),
            rule=exc.rule,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        page = Page(request)
        rule = "csrf" if exc.detail == "csrf" else ("not_found" if exc.status_code == 404 else "")
        message = catalogue.rule_message(rule) or catalogue.word("ui", "request_failed")
        return page.render(
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            message=message,
            rule=rule or None,
        )

    return app


def _to_login(request: Request, url: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
