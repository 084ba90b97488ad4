"""Identity document numbers masked in responses, unless the caller's role needs them.

Registrars (who register and verify a child's identity) and approvers (who check it before
approving) read ``id_number`` in full; auditors and operators read ``4101**********1234``
(PIPL art. 28 minimisation). Applied to every JSON response of every service by
:class:`IdNumberMasking`, so an endpoint added later is covered too; a response is only
parsed for callers who must not see full numbers. Logs mask on their own (shared/telemetry).

Limit: a ``G`` student number is ``G`` + the resident ID (decision 0004) and stays whole — it
is the key of every path and message; masking ``id_number`` hides the document of students
with ``L`` numbers and other documents, and keeps the field out of views that do not need it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.security.principal import Principal, Role

FULL_ID_ROLES = frozenset({Role.REGISTRAR, Role.APPROVER})
MASKED_KEYS = frozenset({"id_number"})


def mask_id_number(value: str) -> str:
    """``410102201803070017`` → ``4101**********0017``; short numbers are starred whole."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_ids(data: Any) -> Any:
    """``data`` with every ``id_number`` string masked, at any depth."""
    if isinstance(data, dict):
        return {
            key: mask_id_number(value)
            if key in MASKED_KEYS and isinstance(value, str)
            else mask_ids(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask_ids(item) for item in data]
    return data


def needs_masking(principal: Principal | None) -> bool:
    return principal is not None and not (principal.roles & FULL_ID_ROLES)


class IdNumberMasking:
    """ASGI middleware: masks JSON responses for principals without a full-ID role."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def masking_send(message: Message) -> None:
            nonlocal start, passthrough
            if passthrough:
                await send(message)
                return
            if message["type"] == "http.response.start":
                principal = scope.get("state", {}).get("principal")
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                json_body = content_type.startswith(b"application/json")
                if not (json_body and needs_masking(principal)):
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = _masked(b"".join(chunks))
            kept = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            kept.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, masking_send)


def _masked(body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    return json.dumps(mask_ids(data), ensure_ascii=False, separators=(",", ":")).encode()
