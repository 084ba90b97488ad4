"""The FastAPI app factory every tier uses: lifespan, health, readiness, error mapping.

Every refusal answers :class:`~shared.runtime.errors.ErrorResponse` (domain errors, FastAPI's
validation errors and HTTP exceptions, the service's own 500), and the OpenAPI document lists
each operation's refusals (``shared/runtime/openapi.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from shared.audit import http as audit_http
from shared.messaging.uow import UnitOfWork
from shared.runtime import openapi
from shared.runtime.errors import DomainError, FieldError, NotFound, error_response
from shared.runtime.limits import (
    EDGE_REFUSALS,
    FORM_LIMITS,
    HttpLimits,
    RequestLimitsMiddleware,
)
from shared.runtime.nul import RefuseNulMiddleware
from shared.runtime.service import ServiceRuntime
from shared.security import http as security_http
from shared.security.authz import public
from shared.security.masking import IdNumberMasking
from shared.security.passwords import HASHING
from shared.telemetry.http import RequestMetricsMiddleware
from shared.telemetry.metrics import CONTENT_TYPE_LATEST
from shared.telemetry.tracing import instrument_app


async def get_runtime(request: Request) -> ServiceRuntime:
    # Dependencies are coroutines: FastAPI runs a plain ``def`` one in a worker thread, two
    # thread hand-offs per request for a dictionary lookup.
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def request_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work, committed at the request boundary: once the endpoint has
    returned and its response is built, before the response is sent (``scope="function"``).
    An endpoint that raises (a refusal, a failure) rolls it back; a failed commit is a 500,
    so no response ever stands for a change that did not commit, nor a refusal for one that
    did. The service layer stages and writes in it and never commits. Its session connects at
    its first statement, so an endpoint that refuses before touching the database costs
    nothing. An audited endpoint's entry commits in this transaction (``shared.audit``)."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.unit_of_work() as uow:
        yield uow
        await uow.commit()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(request_unit_of_work, scope="function")]
# A proof's position in its list (at most a handful): bounded, so that no number reaches SQL
# beyond what an integer column holds (that would be a 500, not a 404).
ProofIndex = Annotated[int, Path(ge=0, le=999, description="the proof's position in its list")]


def require_hosted(runtime: ServiceRuntime, code: str, what: str) -> None:
    """404 for a unit this instance does not host: tenants never see each other."""
    if not runtime.hosts(code):
        raise NotFound(f"{what} {code} is not served here", rule="unit_not_served")


def domain_refusal(request: Request, exc: DomainError) -> Response:
    """How a refusal is answered (the one error model). An endpoint returns it instead of
    raising only when what it did before refusing must commit all the same (an expired export
    purged): a raised refusal rolls the request's unit of work back."""
    # e.g. the Retry-After of a throttled login
    headers: Mapping[str, str] = getattr(exc, "headers", {})
    return refusal(
        request,
        exc.status_code,
        exc.detail,
        rule=exc.rule,
        article=exc.article,
        headers=headers,
    )


def refusal(
    request: Request,
    status: int,
    message: str,
    *,
    rule: str | None = None,
    article: str | None = None,
    code: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A refusal in the one error model, in Chinese too when the request asks for it."""
    body = error_response(
        status,
        message,
        rule=rule,
        article=article,
        code=code,
        errors=errors,
        accept_language=request.headers.get("accept-language"),
    )
    if status == 401:  # a 401 says how to authenticate (RFC 6750)
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=dict(headers or {})
    )


def validation_refusal(request: Request, errors: Sequence[Any]) -> JSONResponse:
    """422 ``validation_failed`` naming each wrong field (FastAPI's errors, without inputs)."""
    fields = [FieldError(loc=[*e["loc"]], msg=str(e["msg"]), type=str(e["type"])) for e in errors]
    return refusal(request, 422, _summary(fields), errors=fields)


def _summary(fields: list[FieldError]) -> str:
    if not fields:
        return "the request is invalid"
    first = fields[0]
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return f"{'.'.join(map(str, first.loc))}: {first.msg}{more}"


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal and the service's own failure answer the one error model."""

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return domain_refusal(request, exc)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_refusal(request, exc.errors())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code < 400:  # e.g. 304: no body
            return Response(status_code=exc.status_code, headers=exc.headers)
        return refusal(request, exc.status_code, str(exc.detail), headers=exc.headers)

    async def server_error(request: Request, _exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware answers with this, then re-raises to be logged.
        return refusal(request, 500, "internal error: the failure is logged")

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)


def create_app(
    runtime: ServiceRuntime, routers: Sequence[APIRouter], *, title: str, description: str
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        form_limits=FORM_LIMITS,
    )
    app.state.runtime = runtime
    settings = runtime.settings
    HASHING.configure(settings.login_hash_concurrency, settings.login_hash_queue_seconds)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="The process is alive",
        dependencies=[public()],
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "instance": runtime.instance.name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Database and broker are reachable",
        dependencies=[public()],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    # Aggregate counts only, no personal data: scraped without a token.
    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics of this instance",
        dependencies=[public()],
        response_class=PlainTextResponse,
    )
    async def metrics() -> Response:
        return Response(await runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    install_error_handlers(app)
    for router in (security_http.router, *routers, audit_http.router):
        app.include_router(router)
    app.add_middleware(IdNumberMasking)
    app.add_middleware(RefuseNulMiddleware)  # U+0000 never reaches a handler
    # a request is measured before anything reads it (decision 0026)
    app.add_middleware(RequestLimitsMiddleware, limits=HttpLimits.of(runtime.settings))
    # outermost: the refusals at the edge are counted too
    app.add_middleware(RequestMetricsMiddleware, histogram=runtime.metrics.http_request_duration)
    instrument_app(app)
    openapi.install(app, edge=EDGE_REFUSALS)
    return app
