"""Refusals of the school's use cases, beyond the shared ``DomainError`` family."""

from __future__ import annotations

from collections.abc import Sequence

from services.school.domain.students import Violation
from shared.runtime.errors import DomainError


class InvalidInput(Exception):
    """The request breaks field rules; the HTTP layer answers 422 in FastAPI's error shape.

    Each violation's ``field`` is a dotted path inside the request body (``id_number``,
    ``changes.id_number``) or ``file`` for an upload.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.rule}" for v in violations))
        self.violations = tuple(violations)


class PayloadTooLarge(DomainError):
    status_code = 413


class UnsupportedMediaType(DomainError):
    status_code = 415
