"""The province's archive handlers: thin, they check the school and call the service layer.

The registry-authority handlers (for province-direct schools, and the province's own transfer
steps) are ``components.approval_desk``'s, registered in ``bootstrap.py``.

Who may send them is the contracts' data, checked by the consumer (decision 0025); here, who
among those tiers: a filing comes from the school itself, a decision from national or (a
rejection) the school's own registry authority, an archive from the province of the school it
leaves. Any other sender is a security refusal (``not_a_party``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Table

from components.school_mergers import reports as merger_reports
from services.province.service_layer import (
    archive,
    archive_transfer,
    duplicates,
    graduation,
    merger,
    progression,
    promotion,
    status_archive,
)
from services.province.service_layer.archive_transfer import Completion, HandOver, Receipt
from shared.contracts.duplicates import DuplicateResolutionDecided
from shared.contracts.graduation import GraduationBatchDecided
from shared.contracts.merger import SchoolMergedApplied
from shared.contracts.progression import ProgressionCompleted
from shared.contracts.promotion import ProvincePromoted
from shared.contracts.registration import (
    ArchiveFiled,
    KeyFieldChangeDecided,
    RegistrationBatchDecided,
)
from shared.contracts.status import DropoutArchiveHandedOver, StatusChangeDecided
from shared.contracts.transfer import ArchiveHandedOver, ArchiveReceived, TransferCompleted
from shared.federation.config import NATIONAL, Federation, School, Tier, UnitRef
from shared.federation.links import proof_url
from shared.messaging.authorization import require_decider, require_source
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.rules import load_province_rules, yi_track_list_city
from shared.runtime.service import ServiceRuntime


def register(handlers: HandlerRegistry, federation: Federation, mergers: Table) -> None:
    """Subscribe the province archive to filings and outcomes of its schools' students
    (``mergers``: the school mergers the province and its cities decided)."""

    async def on_archive_filed(ctx: HandlerContext, filing: ArchiveFiled) -> None:
        require_school_of(federation, ctx.unit, filing.school_code)
        school = UnitRef(tier=Tier.SCHOOL, code=filing.school_code)
        require_source(ctx, school, "its registration archives")
        await archive.file_archives(ctx.session, ctx.unit.code, filing, _now())

    async def on_batch_decided(ctx: HandlerContext, decided: RegistrationBatchDecided) -> None:
        school = require_school_of(federation, ctx.unit, decided.school_code)
        rejection = all(o.outcome == "rejected" for o in decided.outcomes)
        require_decider(
            ctx,
            school,
            rejection=rejection,
            what="registration batch decision",
            also=yi_track_list_city(school),
        )
        require_numbers(decided)
        await archive.record_outcomes(ctx.session, ctx.unit.code, decided, _now())

    async def on_key_field_change_decided(
        ctx: HandlerContext, decided: KeyFieldChangeDecided
    ) -> None:
        school = require_school_of(federation, ctx.unit, decided.school_code)
        # the authority's own: a rejection, or an applied hukou place change (decision 0043)
        rejection = decided.authority_decides()
        require_decider(ctx, school, rejection=rejection, what="key-field change decision")
        await archive.apply_key_field_change(
            ctx.session, ctx.unit.code, decided, _now(), federation=federation
        )

    async def on_graduation_decided(ctx: HandlerContext, decided: GraduationBatchDecided) -> None:
        school = require_school_of(federation, ctx.unit, decided.school_code)
        rejection = decided.outcome == "rejected"
        require_decider(ctx, school, rejection=rejection, what="graduation decision")
        await graduation.apply_graduation(ctx.session, ctx.unit.code, decided, _now())

    async def on_duplicate_resolved(
        ctx: HandlerContext, decided: DuplicateResolutionDecided
    ) -> None:
        real = known_school(federation, decided.real_school)
        other = known_school(federation, decided.other_school or "")
        if ctx.unit.code not in (real.province, other.province):
            raise PermanentMessageError(
                f"duplicate resolution {decided.resolution_id} does not concern {ctx.unit}"
            )
        await duplicates.apply_resolution(ctx, other, real, decided, _now())

    async def on_province_promoted(ctx: HandlerContext, promoted: ProvincePromoted) -> None:
        if promoted.province_code != ctx.unit.code:
            raise PermanentMessageError(
                f"the promotion of province {promoted.province_code} was addressed to {ctx.unit}"
            )
        for school in promoted.schools:
            require_school_of(federation, ctx.unit, school.school_code)
        await promotion.record(ctx.session, promoted, _now())

    handlers.register(ArchiveFiled, on_archive_filed)
    handlers.register(ProvincePromoted, on_province_promoted)
    handlers.register(DuplicateResolutionDecided, on_duplicate_resolved)
    handlers.register(GraduationBatchDecided, on_graduation_decided)
    handlers.register(RegistrationBatchDecided, on_batch_decided)
    handlers.register(KeyFieldChangeDecided, on_key_field_change_decided)
    register_transfers(handlers, federation)
    register_mergers(handlers, federation, mergers)


def register_mergers(handlers: HandlerRegistry, federation: Federation, mergers: Table) -> None:
    """A merged or closed school's students (N2013 art. 9; decisions 0043, 0049)."""

    async def on_merger_applied(ctx: HandlerContext, applied: SchoolMergedApplied) -> None:
        """A merged or closed school's archives go with its students (N2013 art. 9); the
        merger's report adds the batch up where the province or a city it hosts decided it
        (decision 0049)."""
        require_source(ctx, NATIONAL, f"the merger of {applied.from_school}")
        from_school = known_school(federation, applied.from_school)
        if ctx.unit.tier is Tier.PROVINCE:
            if ctx.unit.code != from_school.province:
                raise PermanentMessageError(
                    f"merger {applied.merger_id} does not concern {ctx.unit}"
                )
            await merger.apply_merger(ctx.session, ctx.unit.code, applied, _now())
        await merger_reports.record_batch(ctx.session, mergers, federation, ctx.unit, applied)

    handlers.register(SchoolMergedApplied, on_merger_applied)


def register_transfers(handlers: HandlerRegistry, federation: Federation) -> None:
    """The archive follows a transferred student (N2013 arts. 9, 15). Set-based: a delivery
    batch's run of each message type is applied at once (decision 0019)."""

    def completion(ctx: HandlerContext, completed: TransferCompleted) -> Completion:
        from_school = known_school(federation, completed.from_school)
        to_school = known_school(federation, completed.to_school)
        if ctx.unit.code not in (from_school.province, to_school.province):
            raise PermanentMessageError(
                f"transfer {completed.transfer_id} does not concern {ctx.unit}"
            )
        proofs = tuple(
            {
                **proof.model_dump(mode="json"),
                "url": proof_url(
                    federation, to_school.code, str(completed.transfer_id), proof.index
                ),
            }
            for proof in completed.proofs
        )
        return Completion(ctx, from_school, to_school, completed, proofs)

    def hand_over(ctx: HandlerContext, handed: ArchiveHandedOver) -> HandOver:
        require_school_of(federation, ctx.unit, handed.to_school)
        from_province = known_school(federation, handed.from_school).province
        if from_province == ctx.unit.code:
            raise PermanentMessageError(
                f"transfer {handed.transfer_id}: an archive is handed over across a border only"
            )
        sender = UnitRef(tier=Tier.PROVINCE, code=from_province)
        require_source(ctx, sender, f"the archive of a student leaving {handed.from_school}")
        return HandOver(ctx, from_province, handed)

    async def on_transfers_completed(
        contexts: Sequence[HandlerContext], payloads: Sequence[TransferCompleted]
    ) -> None:
        completions = [completion(c, p) for c, p in zip(contexts, payloads, strict=True)]
        await archive_transfer.on_completed_many(completions, _now())

    async def on_archives_handed_over(
        contexts: Sequence[HandlerContext], payloads: Sequence[ArchiveHandedOver]
    ) -> None:
        handed = [hand_over(c, p) for c, p in zip(contexts, payloads, strict=True)]
        await archive_transfer.receive_many(handed, _now())

    async def on_archives_received(
        contexts: Sequence[HandlerContext], payloads: Sequence[ArchiveReceived]
    ) -> None:
        receipts = [Receipt(c, p) for c, p in zip(contexts, payloads, strict=True)]
        await archive_transfer.record_receipts(receipts, _now())

    async def on_progressions_completed(
        contexts: Sequence[HandlerContext], payloads: Sequence[ProgressionCompleted]
    ) -> None:
        moves = []
        for ctx, completed in zip(contexts, payloads, strict=True):
            from_school = known_school(federation, completed.from_school)
            to_school = known_school(federation, completed.to_school)
            if ctx.unit.code not in (from_school.province, to_school.province):
                raise PermanentMessageError(
                    f"progression {completed.progression_id} does not concern {ctx.unit}"
                )
            moves += progression.completions(ctx, from_school, to_school, completed)
        await progression.on_completed(moves, _now())

    handlers.register_many(TransferCompleted, on_transfers_completed)
    handlers.register_many(ProgressionCompleted, on_progressions_completed)

    handlers.register_many(ArchiveHandedOver, on_archives_handed_over)
    handlers.register_many(ArchiveReceived, on_archives_received)


def register_status_changes(handlers: HandlerRegistry, runtime: ServiceRuntime) -> None:
    """The archive records each status change with its proofs; migrant dropouts' archives go
    to their hukou county (N2013 arts. 7, 13, 22)."""
    federation, config = runtime.federation, runtime.settings.federation_config

    async def on_status_change_decided(ctx: HandlerContext, decided: StatusChangeDecided) -> None:
        school = require_school_of(federation, ctx.unit, decided.school_code)
        rejection = decided.outcome == "rejected"
        require_decider(ctx, school, rejection=rejection, what="status change decision")
        rules = load_province_rules(config, school.code).status_change
        await status_archive.record_status_change(
            ctx.session, ctx.unit.code, decided, federation, rules, _now()
        )

    async def on_dropout_archive(ctx: HandlerContext, handed: DropoutArchiveHandedOver) -> None:
        school = known_school(federation, handed.from_school)
        sender = UnitRef(tier=Tier.PROVINCE, code=school.province)
        require_source(ctx, sender, f"the archive of a dropout of {school.code}")
        await status_archive.receive_hukou_archive(
            ctx.session, ctx.unit.code, handed, federation, _now()
        )

    handlers.register(StatusChangeDecided, on_status_change_decided)
    handlers.register(DropoutArchiveHandedOver, on_dropout_archive)


def known_school(federation: Federation, school_code: str) -> School:
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"school {school_code} is not in the federation")
    return school


def require_school_of(federation: Federation, province: UnitRef, school_code: str) -> School:
    """A message about a school of another province can never apply here: dead-letter it."""
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"school {school_code} is not in the federation")
    if school.province != province.code:
        raise PermanentMessageError(f"school {school_code} is not in {province}")
    return school


def require_numbers(decided: RegistrationBatchDecided) -> None:
    """An ``issued`` outcome without its student number breaks the contract: dead-letter it."""
    if any(o.outcome == "issued" and not o.student_number for o in decided.outcomes):
        raise PermanentMessageError(
            f"batch {decided.batch_id}: an issued outcome carries no student number"
        )


def _now() -> datetime:
    return datetime.now(UTC)
