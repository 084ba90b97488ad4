"""What the use cases share: telling a school and its province, where schools are, the registry
view dedup checks against. (Messages go out through ``shared.messaging.emit.Emit``.)"""

from __future__ import annotations

from services.national.adapters.repository import NationalRepository
from services.national.domain.dedup import RegistryView
from services.national.domain.identity import Person
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.messaging.emit import Emit
from shared.messaging.envelope import Contract

DECIDED_BY = str(NATIONAL)


async def tell_school_and_province(emit: Emit, payload: Contract, school_code: str) -> None:
    """Send ``payload`` to the school and to its province (first two digits of the code)."""
    await emit(payload, target=UnitRef(tier=Tier.SCHOOL, code=school_code))
    await emit(payload, target=UnitRef(tier=Tier.PROVINCE, code=province_of(school_code)))


def province_of(school_code: str) -> str:
    return school_code[:2]


def division_of(federation: Federation, school_code: str) -> str:
    """The division code ``L`` numbers of a school use: the county it belongs to.

    Equal to the first 6 digits of the code for a school under a county; for a
    province-direct school (``4100000001``) the county it is located in.
    """
    school = federation.school(school_code)
    return school.county if school is not None else school_code[:6]


def in_yi_track(federation: Federation, school_code: str) -> bool:
    """Whether a student registered at this school joins Liangshan's Yi-language track (LS
    part 6): the school is a Yi-track school."""
    school = federation.school(school_code)
    return school is not None and school.yi_track


async def load_view(
    repo: NationalRepository, persons: list[Person], *, excluding: str | None = None
) -> RegistryView:
    """Everything that can conflict with ``persons``: three set-based queries."""
    documents = {p.document for p in persons if p.document is not None}
    identities = {p.identity for p in persons}
    records = {
        r.entry_id: r
        for r in await repo.records_with_documents(documents, excluding=excluding)
        + await repo.records_with_identities(identities, excluding=excluding)
    }
    pending = await repo.pending_documents(documents)
    return RegistryView.of(sorted(records.values(), key=lambda r: r.entry_id), pending)
