"""Requests carrying a NUL character (U+0000) are refused at the edge with a 422.

PostgreSQL text cannot hold U+0000: a NUL in a path parameter, a query parameter, a JSON or
form field, or the audit purpose header would otherwise reach the driver and fail there (a
500, and the request's audit entry could not be written either). SQLite would store it, so the
two databases would also disagree. No field of Xueji has a use for it.

Checked: the decoded path, the raw query string (``%00`` or a raw NUL), the
``X-Xueji-Purpose`` header, and bodies of type ``application/json`` (``\\u0000``) and
``application/x-www-form-urlencoded`` (``%00``), which are buffered to be read once more by the
app. Other bodies (file uploads) pass untouched: a spreadsheet legitimately contains NUL bytes,
and the upload parsers check their own cells.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.runtime.errors import accept_language_of, error_body

RULE = "nul_character"
_PURPOSE = b"x-xueji-purpose"
_JSON_NUL = b"\\u0000"


def _refusal(scope: Scope, where: str) -> bytes:
    message = f"the request's {where} contains a NUL character (U+0000), which is never accepted"
    language = accept_language_of(scope.get("headers", []))
    return error_body(422, message, rule=RULE, accept_language=language)


class RefuseNulMiddleware:
    """Pure ASGI middleware (no body copy for uploads, no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = self._where_in_head(scope)
        if where is not None:
            await self._refuse(scope, send, where)
            return
        kind = _content_type(scope)
        if kind not in ("application/json", "application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        marker = _JSON_NUL if kind == "application/json" else b"%00"
        if marker in body or b"\x00" in body:
            await self._refuse(scope, send, "body")
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _where_in_head(scope: Scope) -> str | None:
        if "\x00" in scope.get("path", ""):
            return "path"
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            return "query"
        for name, value in scope.get("headers", []):
            if name == _PURPOSE and (b"%00" in value or b"\x00" in value):
                return "X-Xueji-Purpose header"
        return None

    @staticmethod
    async def _refuse(scope: Scope, send: Send, where: str) -> None:
        body = _refusal(scope, where)
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            text: Any = value.decode("latin-1")
            return str(text).split(";", 1)[0].strip().lower()
    return ""
