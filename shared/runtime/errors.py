"""Business errors carry their HTTP status and the rule that refused the request."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 422

    def __init__(self, detail: str, *, rule: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.rule = rule


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409
