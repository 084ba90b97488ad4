"""The province's archive handlers: thin, they check the school and call the service layer.

The registry-authority handlers (for province-direct schools) are ``shared.authority``'s,
registered in ``bootstrap.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.province.service_layer import archive
from shared.contracts.registration import (
    ArchiveFiled,
    KeyFieldChangeDecided,
    RegistrationBatchDecided,
)
from shared.federation.config import Federation, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry


def register(handlers: HandlerRegistry, federation: Federation) -> None:
    """Subscribe the province archive to filings and outcomes of its schools' students."""

    async def on_archive_filed(ctx: HandlerContext, filing: ArchiveFiled) -> None:
        require_school_of(federation, ctx.unit, filing.school_code)
        await archive.file_archives(ctx.session, ctx.unit.code, filing, _now())

    async def on_batch_decided(ctx: HandlerContext, decided: RegistrationBatchDecided) -> None:
        require_school_of(federation, ctx.unit, decided.school_code)
        require_numbers(decided)
        await archive.record_outcomes(ctx.session, ctx.unit.code, decided, _now())

    async def on_key_field_change_decided(
        ctx: HandlerContext, decided: KeyFieldChangeDecided
    ) -> None:
        require_school_of(federation, ctx.unit, decided.school_code)
        await archive.apply_key_field_change(ctx.session, ctx.unit.code, decided, _now())

    handlers.register(ArchiveFiled, on_archive_filed)
    handlers.register(RegistrationBatchDecided, on_batch_decided)
    handlers.register(KeyFieldChangeDecided, on_key_field_change_decided)


def require_school_of(federation: Federation, province: UnitRef, school_code: str) -> None:
    """A message about a school of another province can never apply here: dead-letter it."""
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"school {school_code} is not in the federation")
    if school.province != province.code:
        raise PermanentMessageError(f"school {school_code} is not in {province}")


def require_numbers(decided: RegistrationBatchDecided) -> None:
    """An ``issued`` outcome without its student number breaks the contract: dead-letter it."""
    if any(o.outcome == "issued" and not o.student_number for o in decided.outcomes):
        raise PermanentMessageError(
            f"batch {decided.batch_id}: an issued outcome carries no student number"
        )


def _now() -> datetime:
    return datetime.now(UTC)
