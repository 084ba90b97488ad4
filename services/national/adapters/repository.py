"""Every query of the national service. Batch look-ups are set-based: one ``IN`` query per
kind of conflict for the whole batch, never one query per student.

The look-ups every transfer message makes (an entry by number, by id, by a superseded
number) run statements built once, at import, with named bind parameters: building a
statement and computing its cache key cost more CPU than running it (decision 0019). They
stay ORM selects: callers work with the session's :class:`RegistryEntry` objects."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    false,
    func,
    insert,
    inspect,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from services.national.adapters.orm import (
    Base,
    DedupReview,
    RegistryEntry,
    SupersededNumber,
    TemporarySerial,
)
from services.national.domain.identity import DocumentKey, Person, Placement, Record
from services.national.domain.numbers import ParityKey, SerialKey

OPEN = "open"

_ENTRY_BY_NUMBER = select(RegistryEntry).where(
    RegistryEntry.student_number == bindparam("student_number")
)
_ENTRY = inspect(RegistryEntry)
_ENTRY_BY_ID = select(RegistryEntry).where(RegistryEntry.entry_id == bindparam("entry_id"))
_ENTRIES_BY_ID = select(RegistryEntry).where(
    RegistryEntry.entry_id.in_(bindparam("entry_ids", expanding=True))
)
_SUPERSEDING_ENTRY = (
    select(RegistryEntry)
    .join(SupersededNumber, SupersededNumber.entry_id == RegistryEntry.entry_id)
    .where(SupersededNumber.student_number == bindparam("student_number"))
)
# Many numbers at once, each found by itself or by a number it replaced: one statement (a
# UNION ALL of the two index look-ups), each row with the number it was found by and how.
_by_numbers: BindParameter[Any] = bindparam("student_numbers", expanding=True)
_FOUND = union_all(
    select(
        *_ENTRY.columns,
        RegistryEntry.student_number.label("asked"),
        false().label("replaced"),
    ).where(RegistryEntry.student_number.in_(_by_numbers)),
    select(
        *_ENTRY.columns,
        SupersededNumber.student_number.label("asked"),
        true().label("replaced"),
    )
    .join(SupersededNumber, SupersededNumber.entry_id == RegistryEntry.entry_id)
    .where(SupersededNumber.student_number.in_(_by_numbers)),
).subquery()
_ENTRIES_BY_NUMBER = select(aliased(RegistryEntry, _FOUND), _FOUND.c.asked, _FOUND.c.replaced)


def person_of(row: RegistryEntry | DedupReview) -> Person:
    return Person(row.name, row.gender, row.birth_date, row.id_type, row.id_number)


def record_of(entry: RegistryEntry) -> Record:
    placement = Placement(entry.school_code, entry.province_code)
    return Record(entry.entry_id, person_of(entry), placement, entry.status)


@dataclass(frozen=True)
class Replay:
    """An item seen before under the same registration id: answer as we did then."""

    student_number: str | None = None  # issued
    review: DedupReview | None = None  # still held


class NationalRepository:
    """The national database, seen through the questions the use cases ask."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- registration batches -------------------------------------------------------------

    async def replays(self, registration_ids: Collection[str]) -> dict[str, Replay]:
        """Registrations already issued, or still held for review, by registration id."""
        issued = await self.session.execute(
            select(RegistryEntry.registration_id, RegistryEntry.student_number).where(
                RegistryEntry.registration_id.in_(registration_ids)
            )
        )
        found = {rid: Replay(student_number=number) for rid, number in issued}
        held = await self.session.scalars(
            select(DedupReview).where(
                DedupReview.registration_id.in_(registration_ids), DedupReview.status == OPEN
            )
        )
        for review in held:
            found.setdefault(review.registration_id, Replay(review=review))
        return found

    async def records_with_documents(
        self, documents: Collection[DocumentKey], *, excluding: str | None = None
    ) -> list[Record]:
        """Entries holding any of ``documents`` (``id_number IN (...)``, pairs checked here)."""
        numbers = {number for _, number in documents}
        if not numbers:
            return []
        query = select(RegistryEntry).where(RegistryEntry.id_number.in_(numbers))
        entries = await self._entries(query, excluding)
        return [record_of(e) for e in entries if (e.id_type, e.id_number) in documents]

    async def records_with_identities(
        self, identities: Collection[str], *, excluding: str | None = None
    ) -> list[Record]:
        """Entries with any of the (name, gender, birth date) ``identities`` keys."""
        if not identities:
            return []
        query = select(RegistryEntry).where(RegistryEntry.identity_key.in_(identities))
        return [record_of(e) for e in await self._entries(query, excluding)]

    async def pending_documents(
        self, documents: Collection[DocumentKey]
    ) -> list[tuple[DocumentKey, Placement]]:
        """Open reviews holding any of ``documents``, with where they were submitted."""
        numbers = {number for _, number in documents}
        if not numbers:
            return []
        rows = await self.session.execute(
            select(
                DedupReview.id_type,
                DedupReview.id_number,
                DedupReview.school_code,
                DedupReview.province_code,
            ).where(DedupReview.id_number.in_(numbers), DedupReview.status == OPEN)
        )
        return [
            ((id_type, number), Placement(school, province))
            for id_type, number, school, province in rows
            if number is not None and (id_type, number) in documents
        ]

    async def highest_serials(self, keys: Collection[SerialKey]) -> dict[ParityKey, int]:
        """The highest ``L`` serial per (division, birth date, parity) for ``keys``: one query."""
        if not keys:
            return {}
        parity = TemporarySerial.serial % 2
        rows = await self.session.execute(
            select(
                TemporarySerial.division_code,
                TemporarySerial.birth_date,
                parity,
                func.max(TemporarySerial.serial),
            )
            .where(
                TemporarySerial.division_code.in_({division for division, _ in keys}),
                TemporarySerial.birth_date.in_({born for _, born in keys}),
            )
            .group_by(TemporarySerial.division_code, TemporarySerial.birth_date, parity)
        )
        return {
            (division, born, int(odd)): int(highest)
            for division, born, odd, highest in rows
            if (division, born) in keys
        }

    async def add_entries(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._insert(RegistryEntry, rows)

    async def add_serials(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._insert(TemporarySerial, rows)

    async def add_reviews(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._insert(DedupReview, rows)

    # -- the registry ---------------------------------------------------------------------

    async def entry_by_number(self, student_number: str) -> RegistryEntry | None:
        params = {"student_number": student_number}
        return (await self.session.scalars(_ENTRY_BY_NUMBER, params)).one_or_none()

    async def entry_by_id(self, entry_id: str) -> RegistryEntry | None:
        """As ``Session.get``: the session's own object, without a query, when it has the
        entry loaded; otherwise one (prebuilt) SELECT, whose object joins the session."""
        known = self._known_entry(entry_id)
        if known is not None:
            return known
        params = {"entry_id": entry_id}
        return (await self.session.scalars(_ENTRY_BY_ID, params)).one_or_none()

    async def entries_by_id(self, entry_ids: Collection[str]) -> dict[str, RegistryEntry]:
        """:meth:`entry_by_id` for many: those the session has, and one SELECT for the rest."""
        found = {i: known for i in entry_ids if (known := self._known_entry(i)) is not None}
        missing = [entry_id for entry_id in entry_ids if entry_id not in found]
        if missing:
            params = {"entry_ids": missing}
            found |= {e.entry_id: e for e in await self.session.scalars(_ENTRIES_BY_ID, params)}
        return found

    def _known_entry(self, entry_id: str) -> RegistryEntry | None:
        """The session's object of the entry, if it has it loaded and not expired."""
        known = self.session.identity_map.get(_ENTRY.identity_key_from_primary_key((entry_id,)))
        if isinstance(known, RegistryEntry) and not inspect(known).expired:
            return known
        return None

    async def entries_by_number(self, student_numbers: Collection[str]) -> dict[str, RegistryEntry]:
        """The entry each of ``student_numbers`` names, by the number asked: the entry with
        that number, else the one that replaced it (:meth:`entry_by_number`, then
        :meth:`superseding_entry`, for many numbers in one statement)."""
        if not student_numbers:
            return {}
        params = {"student_numbers": sorted(student_numbers)}
        found: dict[str, RegistryEntry] = {}
        for entry, asked, replaced in await self.session.execute(_ENTRIES_BY_NUMBER, params):
            if not replaced or asked not in found:
                found[asked] = entry
        return found

    async def superseding_entry(self, old_number: str) -> RegistryEntry | None:
        """The entry whose earlier number was ``old_number``."""
        params = {"student_number": old_number}
        return (await self.session.scalars(_SUPERSEDING_ENTRY, params)).one_or_none()

    async def entries_of_school(
        self, school_code: str, *, after: str | None, limit: int
    ) -> list[RegistryEntry]:
        """A school's entries in student-number order, from after ``after`` (keyset page)."""
        query = select(RegistryEntry).where(RegistryEntry.school_code == school_code)
        if after is not None:
            query = query.where(RegistryEntry.student_number > after)
        query = query.order_by(RegistryEntry.student_number).limit(limit)
        return list(await self.session.scalars(query))

    async def change_identity(
        self,
        entry: RegistryEntry,
        new: Person,
        identity_key: str,
        number: str,
        now: datetime,
        others: Mapping[str, Any] | None = None,
    ) -> None:
        """Record new key fields on ``entry``; keep its old number findable if it changes.
        ``others``: nationality / ethnicity, where the change sets them."""
        if number != entry.student_number:
            await self._insert(
                SupersededNumber,
                [
                    {
                        "student_number": entry.student_number,
                        "entry_id": entry.entry_id,
                        "superseded_at": now,
                    }
                ],
            )
        await self.session.execute(
            update(RegistryEntry)
            .where(RegistryEntry.entry_id == entry.entry_id)
            .values(
                name=new.name,
                gender=new.gender,
                birth_date=new.birth_date,
                id_type=new.id_type,
                id_number=new.id_number,
                identity_key=identity_key,
                student_number=number,
                updated_at=now,
                **(others or {}),
            )
        )

    # -- the review queue -----------------------------------------------------------------

    async def reviews(
        self, *, province: str | None, status: str, after: int | None, limit: int
    ) -> list[tuple[DedupReview, RegistryEntry]]:
        """A page of the review queue, oldest first, each with the entry it matched."""
        query = (
            select(DedupReview, RegistryEntry)
            .join(RegistryEntry, RegistryEntry.entry_id == DedupReview.matched_entry_id)
            .where(DedupReview.status == status)
        )
        if province is not None:
            query = query.where(DedupReview.province_code == province)
        if after is not None:
            query = query.where(DedupReview.seq > after)
        rows = await self.session.execute(query.order_by(DedupReview.seq).limit(limit))
        return [(review, entry) for review, entry in rows]

    async def review(self, review_id: str) -> tuple[DedupReview, RegistryEntry] | None:
        query = (
            select(DedupReview, RegistryEntry)
            .join(RegistryEntry, RegistryEntry.entry_id == DedupReview.matched_entry_id)
            .where(DedupReview.review_id == review_id)
        )
        row = (await self.session.execute(query)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def close_review(self, review_id: str, values: Mapping[str, Any]) -> bool:
        """Close an open review; ``False`` if someone else closed it first (no double decision)."""
        result = await self.session.execute(
            update(DedupReview)
            .where(DedupReview.review_id == review_id, DedupReview.status == OPEN)
            .values(**values)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    # -- helpers --------------------------------------------------------------------------

    async def _entries(self, query: Any, excluding: str | None) -> list[RegistryEntry]:
        if excluding is not None:
            query = query.where(RegistryEntry.entry_id != excluding)
        return list(await self.session.scalars(query))

    async def _insert(self, model: type[Base], rows: Iterable[Mapping[str, Any]]) -> None:
        """One executemany for all ``rows`` (Core, so rows with ``None`` columns are not split
        into separate statements the way the ORM's bulk insert groups them)."""
        batch = list(rows)
        if batch:
            table: Table = model.__table__  # type: ignore[assignment]
            await self.session.execute(insert(table), batch)
