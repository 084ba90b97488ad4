"""Bounded requests: body, header and URL limits enforced at the edge of every service.

A request is measured before any of it reaches a route, its authentication or a middleware that
buffers its body (decision 0026):

- **body**: a declared ``Content-Length`` over the limit is answered 413 at once, unread; a
  body without one (chunked) is counted as it streams in and answered 413 the moment it passes
  the limit, whatever the application was doing with it. The limit is
  ``XUEJI_HTTP_MAX_BODY_BYTES`` (1 MiB), or the route's own, declared next to the route with
  FastAPI's ``max_body_size=`` (``@router.post(..., max_body_size=UPLOAD_LIMIT)``), for the few
  that carry files. The route is only looked up when the default is passed, and only a
  chunked body is wrapped to be counted: other requests pay a look at their headers. A body
  over the default is accepted from an authenticated caller only: an anonymous one is
  answered 401 before any of it is read.
- **headers**: at most ``XUEJI_HTTP_MAX_HEADERS`` fields and ``XUEJI_HTTP_MAX_HEADER_BYTES``
  bytes of names and values together, else 431.
- **forms**: one file, 16 fields, 16 KiB a text field (:data:`FORM_LIMITS`, FastAPI's
  ``form_limits``), else 400.
- **URL**: at most ``XUEJI_HTTP_MAX_QUERY_BYTES`` bytes of query string and
  ``XUEJI_HTTP_MAX_PATH_BYTES`` of path, else 414.

A refusal closes the connection (``Connection: close``): the rest of an oversized body is never
read. The ingress in front of the services applies the same numbers (deploy/k8s; the manifests'
test checks they agree with :class:`HttpLimits`' defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.runtime.errors import DomainError, accept_language_of, error_body
from shared.security.authz import authenticate

if TYPE_CHECKING:
    from shared.runtime.settings import ServiceSettings

MiB = 1024 * 1024

# The refusals' codes and messages (the rule names the limit, the message says what to do; the
# Chinese text is the catalogue's, shared/i18n/zh-CN.toml).
_REFUSALS: dict[str, tuple[int, str]] = {
    "body_too_large": (413, "the body is over this operation's limit ({limit} bytes): split it"),
    "headers_too_large": (431, "too many or too large headers (at most {limit})"),
    "url_too_long": (414, "the path or query string is too long (at most {limit} bytes)"),
}
# What the edge answers to any operation (documented on each: shared/runtime/openapi.py).
EDGE_REFUSALS = {
    413: "The body is over the operation's limit (body_too_large)",
    414: "The path or query string is too long (url_too_long)",
    431: "Too many or too large headers (headers_too_large)",
}


# Every form a route parses (the token request, the intake upload): one file at most, a few
# fields, each text field small. Files themselves spool to disk past 1 MiB (Starlette).
FORM_LIMITS: Any = {"max_files": 1, "max_fields": 16, "max_part_size": 16 * 1024}


@dataclass(frozen=True)
class HttpLimits:
    """The numbers every service enforces (``XUEJI_HTTP_*``; the ingress uses the same)."""

    max_body_bytes: int = 1 * MiB
    max_headers: int = 64
    max_header_bytes: int = 16 * 1024
    max_query_bytes: int = 4 * 1024
    max_path_bytes: int = 2 * 1024

    @classmethod
    def of(cls, settings: ServiceSettings) -> HttpLimits:
        return cls(
            max_body_bytes=settings.http_max_body_bytes,
            max_headers=settings.http_max_headers,
            max_header_bytes=settings.http_max_header_bytes,
            max_query_bytes=settings.http_max_query_bytes,
            max_path_bytes=settings.http_max_path_bytes,
        )


def refusal(rule: str, limit: int, accept_language: str | None = None) -> tuple[int, bytes]:
    """The status and JSON body of a limit's refusal (the one error model)."""
    status, message = _REFUSALS[rule]
    body = error_body(
        status, message.format(limit=limit), rule=rule, accept_language=accept_language
    )
    return status, body


class RequestLimitsMiddleware:
    """Pure ASGI middleware, the outermost of the app: nothing runs before it has measured."""

    def __init__(self, app: ASGIApp, limits: HttpLimits) -> None:
        self.app = app
        self.limits = limits
        self._routes: list[_RouteLimit] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = self._head_refusal(scope)
        if head is not None:
            await _refuse(scope, send, *head)
            return
        declared, chunked = _body_framing(scope)
        if declared is not None and declared > self.limits.max_body_bytes:
            limit = self.route_limit(scope)
            if declared > limit:
                await _refuse(scope, send, "body_too_large", limit)
                return
            unauthenticated = _unauthenticated(scope)
            if unauthenticated is not None:
                await _send_error(scope, send, unauthenticated)
                return
        if chunked:  # counted as it streams
            await _Guard(self, scope, receive, send).run()
        else:  # the server hands over exactly the declared length (or no body at all)
            await self.app(scope, receive, send)

    def _head_refusal(self, scope: Scope) -> tuple[str, int] | None:
        limits = self.limits
        if len(scope.get("query_string", b"")) > limits.max_query_bytes:
            return "url_too_long", limits.max_query_bytes
        if len(scope.get("raw_path") or scope["path"].encode()) > limits.max_path_bytes:
            return "url_too_long", limits.max_path_bytes
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if len(headers) > limits.max_headers:
            return "headers_too_large", limits.max_headers
        if sum(len(name) + len(value) for name, value in headers) > limits.max_header_bytes:
            return "headers_too_large", limits.max_header_bytes
        return None

    def route_limit(self, scope: Scope) -> int:
        """The body limit of the route ``scope`` addresses (the default if it declares none)."""
        if self._routes is None:
            self._routes = list(_declared_limits(scope["app"].routes, ""))
        for route in self._routes:
            if scope["method"] in route.methods and route.pattern.match(scope["path"]):
                return route.limit
        return self.limits.max_body_bytes


class _Guard:
    """One request's body, counted as the application receives it."""

    def __init__(
        self, owner: RequestLimitsMiddleware, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.owner, self.scope, self._receive, self._send = owner, scope, receive, send
        self.limit = owner.limits.max_body_bytes
        self.widened = False
        self.received = 0
        self.started = False
        self.refused = False

    async def run(self) -> None:
        try:
            await self.owner.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.refused:  # the application's failure after our 413 is its own affair
                raise

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        refusal: DomainError | None = None
        if self.received > self.limit and not self.widened:
            self.limit, self.widened = self.owner.route_limit(self.scope), True
            refusal = _unauthenticated(self.scope) if self.received <= self.limit else None
        if self.received <= self.limit and refusal is None:
            return message
        self.refused = True
        if not self.started:
            self.started = True
            if refusal is not None:
                await _send_error(self.scope, self._send, refusal)
            else:
                await _refuse(self.scope, self._send, "body_too_large", self.limit)
        # The application sees a client gone away: it stops reading and its answer is dropped.
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


@dataclass(frozen=True)
class _RouteLimit:
    methods: frozenset[str]
    path: str
    pattern: re.Pattern[str]
    limit: int


def _declared_limits(routes: list[Any], prefix: str) -> Iterator[_RouteLimit]:
    """Routes with their own ``max_body_size``, through FastAPI's included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            if route.max_body_size is not None:
                path = prefix + route.path
                pattern, _, _ = compile_path(path)
                yield _RouteLimit(
                    frozenset(route.methods or ()), path, pattern, route.max_body_size
                )
        elif hasattr(route, "original_router"):  # FastAPI's record of include_router
            inner = prefix + route.include_context.prefix
            yield from _declared_limits(route.original_router.routes, inner)


def declared_body_limits(app: Any) -> dict[str, int]:
    """``{"POST /path": bytes}`` of the routes that declare their own body limit."""
    return {
        f"{method} {route.path}": route.limit
        for route in _declared_limits(app.routes, "")
        for method in sorted(route.methods)
    }


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length``, and whether the body is chunked (then it is counted
    whatever length is declared beside: a server may frame it either way)."""
    declared, chunked = None, False
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _unauthenticated(scope: Scope) -> DomainError | None:
    """Why a caller may not send a body over the default limit: only an authenticated one may
    (FastAPI reads a body before the route's dependencies authenticate; a large one is not read
    for an anonymous caller at all)."""
    token = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            token = credentials.strip() if scheme.lower() == "bearer" else None
    try:
        authenticate(scope["app"].state.runtime, token)
    except DomainError as refused:
        return refused
    return None


async def _refuse(scope: Scope, send: Send, rule: str, limit: int) -> None:
    await _send(send, *refusal(rule, limit, accept_language_of(scope.get("headers", []))))


async def _send_error(scope: Scope, send: Send, error: DomainError) -> None:
    language = accept_language_of(scope.get("headers", []))
    body = error_body(error.status_code, error.detail, rule=error.rule, accept_language=language)
    await _send(send, error.status_code, body, [(b"www-authenticate", b"Bearer")])


async def _send(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
