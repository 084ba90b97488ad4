"""Every refusal of the API has one shape, :class:`ErrorResponse`.

Business errors carry their HTTP status, the rule that refused the request and, where the rule
comes from a regulation, its article. The app answers them, FastAPI's own validation errors
(422), its HTTP exceptions (401, 403, 404, 405 ...), the refusals of the edge middleware and
its own server errors (500) with the same body::

    {"code": "task_not_found", "message": "task 5d1c... not found",
     "message_zh": "找不到该任务。", "rule": "task_not_found", "article": null, "errors": []}

``code`` is the key of the zh-CN message catalogue (``shared/i18n/zh-CN.toml``): the rule when
a business rule refused, else a code of the status (``not_found``, ``validation_failed`` ...).
``message_zh`` is present when the request's ``Accept-Language`` prefers Chinese.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

from shared import i18n


class DomainError(Exception):
    status_code = 422

    def __init__(self, detail: str, *, rule: str | None = None, article: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.rule = rule
        self.article = article


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class FieldError(BaseModel):
    """One field the request got wrong (FastAPI's validation error, without the input)."""

    loc: list[str | int] = Field(description="where: body/query/path/header, then the field")
    msg: str
    type: str = Field(description="the check that failed, e.g. missing, string_too_long")


class ErrorResponse(BaseModel):
    """Why the request was refused (every 4xx, and the 500 the service answers itself)."""

    code: str = Field(
        description="stable machine code: the rule that refused, else one per status "
        "(validation_failed, not_found ...); the key of the zh-CN message catalogue"
    )
    message: str = Field(description="what went wrong, precisely (English)")
    message_zh: str | None = Field(
        None, description="the same in Chinese, when Accept-Language prefers zh"
    )
    rule: str | None = Field(None, description="the business rule that refused, if one did")
    article: str | None = Field(
        None, description="the article of the regulation behind the rule, e.g. N2013 art. 14"
    )
    errors: list[FieldError] = Field(
        default_factory=list, description="for validation_failed: each field that is wrong"
    )


# A code for a refusal that names no rule: the status says what kind of refusal it is.
STATUS_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_")


def wants_chinese(accept_language: str | None) -> bool:
    """Whether ``Accept-Language`` ranks Chinese above English (RFC 9110 q-values)."""
    best: tuple[float, str] = (0.0, "")
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-", 1)[0]
        if language not in ("zh", "en"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best[0]:
            best = (quality, language)
    return best[1] == "zh"


def error_response(
    status: int,
    message: str,
    *,
    rule: str | None = None,
    article: str | None = None,
    code: str | None = None,
    errors: list[FieldError] | None = None,
    accept_language: str | None = None,
) -> ErrorResponse:
    """The body of a refusal; ``code`` defaults to the rule, else to the status's code."""
    key = code or rule or code_for_status(status)
    entry = i18n.entry(key) or i18n.entry(code_for_status(status))
    cited = article or (entry.article if entry and entry.code == key else None)
    return ErrorResponse(
        code=key,
        message=message,
        # the Chinese sentence cites the article in Chinese: "……（豫 第十一条）"
        message_zh=i18n.with_article(entry.message, cited)
        if entry and wants_chinese(accept_language)
        else None,
        rule=rule,
        article=cited,
        errors=errors or [],
    )


def error_body(
    status: int, message: str, *, accept_language: str | None = None, **kw: Any
) -> bytes:
    """The JSON bytes of a refusal, for pure ASGI middleware (no Request object there)."""
    body = error_response(status, message, accept_language=accept_language, **kw)
    return json.dumps(body.model_dump(mode="json"), ensure_ascii=False).encode()


def accept_language_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """``Accept-Language`` from an ASGI scope's raw headers."""
    for name, value in headers:
        if name == b"accept-language":
            return value.decode("latin-1")
    return None
