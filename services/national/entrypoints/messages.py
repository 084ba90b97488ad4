"""Message handlers of the national tier: as thin as the routers.

Only a school's registry authority (学籍主管部门: its county, or its province for a
province-direct school) may send its approvals, naming itself as the approving authority;
only a school itself confirms its roster or asks to resolve a duplicate of its own. Anyone
else is no party: a security refusal (``not_a_party``, dead-lettered with an alert, decision
0025). Anything else that can never apply is dead-lettered (the reason names units only, never
personal data). The transfer saga's
handlers, with their own rules of who may send what, are in :mod:`.transfer_messages`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.national.adapters.repository import NationalRepository
from services.national.entrypoints.progression_messages import register_progressions
from services.national.entrypoints.transfer_messages import register_transfers
from services.national.service_layer.duplicates import record_decision, request_resolution
from services.national.service_layer.graduation import apply_graduation
from services.national.service_layer.key_fields import decide_key_field_change
from services.national.service_layer.merger import apply_merger
from services.national.service_layer.ports import division_of, in_yi_track
from services.national.service_layer.registration import (
    BatchContext,
    MalformedBatch,
    decide_approved_batch,
)
from services.national.service_layer.status_changes import Moment, decide_status_change
from services.national.service_layer.transfers.context import TransferDeps
from services.national.service_layer.verification import check_roster
from shared.contracts.duplicates import DuplicateApprovalDecided, DuplicateResolutionRequested
from shared.contracts.graduation import GraduationBatchApproved
from shared.contracts.merger import SchoolMerged
from shared.contracts.registration import KeyFieldChangeApproved, RegistrationBatchApproved
from shared.contracts.status import StatusChangeApproved
from shared.contracts.verification import RosterConfirmed
from shared.federation.config import Federation, School, Tier, UnitRef
from shared.messaging.authorization import NotAParty
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.rules import registration_authority


def register(handlers: HandlerRegistry, federation: Federation, transfers: TransferDeps) -> None:
    """Register the national handlers: registration batches, key-field changes, status
    changes, graduating lists, term checks, duplicate resolutions, transfers."""

    def roster_filing_by(school_code: str) -> str | None:
        """LS 6: the day a Yi-track school's starting-grade roster is filed with its city,
        where the school's rules say so and the city is a unit of the federation."""
        if federation.city_of(school_code) is None:
            return None
        return transfers.rulebook.province_rules(school_code).yi_track.roster_filing_by

    async def on_batch_approved(ctx: HandlerContext, batch: RegistrationBatchApproved) -> None:
        school = federation.school(batch.school_code)
        grades = [item.basic.grade for item in batch.items]
        config = transfers.rulebook.config
        authority = registration_authority(federation, config, school, grades) if school else None
        authorised_school(
            federation, batch.school_code, ctx.envelope.source, batch.authority, authority
        )
        context = BatchContext(
            correlation_id=ctx.envelope.correlation_id,
            authority=str(ctx.envelope.source),
            division=division_of(federation, batch.school_code),
            now=datetime.now(UTC),
            yi_track=in_yi_track(federation, batch.school_code),
            roster_filing_by=roster_filing_by(batch.school_code),
        )
        try:
            await decide_approved_batch(NationalRepository(ctx.session), ctx.emit, batch, context)
        except MalformedBatch as exc:
            raise PermanentMessageError(str(exc)) from exc

    async def on_key_field_change(ctx: HandlerContext, change: KeyFieldChangeApproved) -> None:
        authorised_school(federation, change.school_code, ctx.envelope.source, change.authority)
        repo = NationalRepository(ctx.session)
        await decide_key_field_change(repo, ctx.emit, change, datetime.now(UTC))

    async def on_status_change(ctx: HandlerContext, change: StatusChangeApproved) -> None:
        authorised_school(federation, change.school_code, ctx.envelope.source, change.authority)
        clock = Moment(transfers.clock.today(), transfers.clock.now())
        await decide_status_change(ctx.session, ctx.emit, transfers.rulebook, change, clock)

    handlers.register(RegistrationBatchApproved, on_batch_approved)
    handlers.register(KeyFieldChangeApproved, on_key_field_change)
    handlers.register(StatusChangeApproved, on_status_change)

    async def on_graduation_approved(ctx: HandlerContext, batch: GraduationBatchApproved) -> None:
        authorised_school(federation, batch.school_code, ctx.envelope.source, batch.authority)
        await apply_graduation(ctx.session, ctx.emit, federation, batch, datetime.now(UTC))

    handlers.register(GraduationBatchApproved, on_graduation_approved)

    async def on_roster_confirmed(ctx: HandlerContext, confirmed: RosterConfirmed) -> None:
        """A school confirms its own roster only."""
        if ctx.envelope.source != UnitRef(tier=Tier.SCHOOL, code=confirmed.school_code):
            raise NotAParty(
                f"{ctx.envelope.source} cannot confirm the roster of {confirmed.school_code}"
            )
        await check_roster(ctx.session, ctx.emit, federation, confirmed, datetime.now(UTC))

    handlers.register(RosterConfirmed, on_roster_confirmed)

    async def on_duplicate_requested(
        ctx: HandlerContext, request: DuplicateResolutionRequested
    ) -> None:
        """Only the real school itself asks (LS 2(三))."""
        if ctx.envelope.source != UnitRef(tier=Tier.SCHOOL, code=request.real_school):
            raise NotAParty(f"{ctx.envelope.source} cannot ask for school {request.real_school}")
        await request_resolution(
            ctx.session,
            ctx.emit,
            federation,
            request,
            ctx.envelope.correlation_id,
            datetime.now(UTC),
        )

    async def on_duplicate_decided(ctx: HandlerContext, decided: DuplicateApprovalDecided) -> None:
        if decided.decided_unit != str(ctx.envelope.source):
            raise NotAParty(
                f"decided_unit {decided.decided_unit} is not the sender {ctx.envelope.source}"
            )
        await record_decision(
            ctx.session, ctx.emit, decided, ctx.envelope.source, datetime.now(UTC)
        )

    async def on_school_merged(ctx: HandlerContext, merged: SchoolMerged) -> None:
        """Only the closing school's registry authority, naming its own officer (N2013
        art. 9); the receiving school in the same province (the archives stay there)."""
        from_school = federation.school(merged.from_school)
        to_school = federation.school(merged.to_school)
        if from_school is None or to_school is None or from_school.code == to_school.code:
            raise PermanentMessageError(
                f"merger of {merged.from_school} into {merged.to_school} cannot apply"
            )
        if ctx.envelope.source != from_school.authority_unit:
            raise NotAParty(
                f"{ctx.envelope.source} is not the registry authority of {from_school.code}"
            )
        if merged.decider.unit != str(ctx.envelope.source):
            raise NotAParty(f"{ctx.envelope.source} decides in the name of {merged.decider.unit}")
        if to_school.province != from_school.province:
            raise PermanentMessageError(
                f"{merged.to_school} is not in the province of {merged.from_school}"
            )
        await apply_merger(ctx.session, ctx.emit, from_school, to_school, merged, datetime.now(UTC))

    handlers.register(SchoolMerged, on_school_merged)
    handlers.register(DuplicateResolutionRequested, on_duplicate_requested)
    handlers.register(DuplicateApprovalDecided, on_duplicate_decided)
    register_transfers(handlers, transfers)
    register_progressions(handlers, transfers)


def authorised_school(
    federation: Federation,
    school_code: str,
    source: UnitRef,
    claimed: str,
    authority: UnitRef | None = None,
) -> School:
    """The school, if ``source`` is its registry authority (or ``authority``, who approves
    this submission: the city for a Yi-track senior list, LS 6) and names itself as the
    approving ``claimed`` authority; an unknown school can never apply (dead-lettered), an
    approval by a unit that has no say over it is a security refusal."""
    school = federation.school(school_code)
    if school is None:
        raise PermanentMessageError(f"unknown school {school_code}")
    expected = authority or school.authority_unit
    if source != expected:
        raise NotAParty(
            f"{source} is not the registry authority of school {school_code} ({expected} is)"
        )
    if claimed != str(source):
        raise NotAParty(f"{source} approves in the name of {claimed}")
    return school
