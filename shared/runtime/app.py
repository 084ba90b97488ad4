"""The FastAPI app factory every tier uses: lifespan, health, readiness, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response

from shared.audit import http as audit_http
from shared.runtime.errors import DomainError
from shared.runtime.limits import FORM_LIMITS, HttpLimits, RequestLimitsMiddleware
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
# A proof's position in its list (at most a handful): bounded, so that no number reaches SQL
# beyond what an integer column holds (that would be a 500, not a 404).
ProofIndex = Annotated[int, Path(ge=0, le=999, description="the proof's position in its list")]


def require_hosted(runtime: ServiceRuntime, code: str, what: str) -> None:
    """404 for a unit this instance does not host: tenants never see each other."""
    if not runtime.hosts(code):
        raise HTTPException(status_code=404, detail=f"{what} {code} is not served here")


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
    )
    async def metrics() -> Response:
        return Response(await runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        # a 401 says how to authenticate (RFC 6750)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        headers.update(getattr(exc, "headers", {}))  # Retry-After of a throttled login
        return JSONResponse(
            {"detail": exc.detail, "rule": exc.rule}, status_code=exc.status_code, headers=headers
        )

    for router in (security_http.router, *routers, audit_http.router):
        app.include_router(router)
    app.add_middleware(IdNumberMasking)
    app.add_middleware(RefuseNulMiddleware)  # U+0000 never reaches a handler
    # a request is measured before anything reads it (decision 0026)
    app.add_middleware(RequestLimitsMiddleware, limits=HttpLimits.of(runtime.settings))
    # outermost: the refusals at the edge are counted too
    app.add_middleware(RequestMetricsMiddleware, histogram=runtime.metrics.http_request_duration)
    instrument_app(app)
    return app
