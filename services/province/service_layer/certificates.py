"""Use case: graduation certificates (毕业 / 结业 / 肄业证书, ZJ arts. 24-26) and the 证明书
that stands for a lost one, from the province's certificate register (decision 0037).

- A school's registrar issues its graduating class's certificates once the graduation is
  recorded in the archives (``graduation.py``): each certificate is numbered by the student's
  auxiliary number (学籍辅号), ``<county><year><serial:06>``, from the county's serial, and
  recorded in the county's register with its signed document (decision 0036's register).
- The county (or an authority above it) records its stamping (验印): who, when.
- A lost certificate is never reissued: the school issues a 证明书 numbered
  ``<auxiliary number>-Z<n>``, which names the original; the original's document is then
  ``superseded`` and verifies so.

Set-based: one query for the class's graduates, one for what is already registered, one
serial update per county and year, one multi-row insert, whatever the class size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from components.documents.issuing import Documents, Draft, Issued
from services.province.adapters.certificate_tables import (
    certificate_register as register,
)
from services.province.adapters.certificate_tables import (
    certificate_serial as serial,
)
from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.domain.archive import ArchiveStatus, EntryKind
from shared.federation.config import Federation, School, Tier, UnitRef
from shared.runtime.errors import Conflict, NotFound

CERTIFICATE, STATEMENT = "certificate", "statement"
DOCUMENT_KIND = {CERTIFICATE: "graduation_certificate", STATEMENT: "graduation_statement"}
TEMPLATE = "certificate.html"
ARTICLE = "浙江省中小学学籍管理办法第二十六条"


@dataclass(frozen=True)
class Request:
    """Who issues, why, and when."""

    issued_by: str
    purpose: str | None
    now: datetime
    today: date


@dataclass(frozen=True)
class Graduate:
    student_number: str
    name: str
    gender: str | None
    birth_date: date | None
    outcome: str
    enrolled_year: int | None


def auxiliary_number(county: str, year: int, serial_number: int) -> str:
    """The auxiliary number (学籍辅号) a certificate is numbered by: county, year, serial."""
    return f"{county}{year}{serial_number:06d}"


async def graduates(session: AsyncSession, school: School, year: int) -> list[Graduate]:
    """The students whose graduation from ``school`` in ``year`` the archives record."""
    rows = await session.execute(
        select(Archive.student_number, Archive.basic, ArchiveEntry.data)
        .join(ArchiveEntry, ArchiveEntry.archive_id == Archive.archive_id)
        .where(
            Archive.province == school.province,
            Archive.school_code == school.code,
            Archive.status == ArchiveStatus.ACTIVE,
            ArchiveEntry.kind == EntryKind.GRADUATION,
        )
        .order_by(Archive.student_number)
    )
    found: dict[str, Graduate] = {}
    for number, basic, data in rows:
        if not number or data.get("graduation_year") != year:
            continue
        if data.get("school_code") != school.code:
            continue
        found[number] = Graduate(
            student_number=number,
            name=str(basic.get("name") or ""),
            gender=basic.get("gender"),
            birth_date=_date(basic.get("birth_date")),
            outcome=str(data["outcome"]),
            enrolled_year=_year(basic.get("enrolled_on")),
        )
    return list(found.values())


async def issue_for_class(
    session: AsyncSession,
    documents: Documents,
    federation: Federation,
    school: School,
    year: int,
    request: Request,
) -> list[Issued]:
    """Number, register and sign the certificates of ``school``'s graduates of ``year`` that
    have none yet (404 ``no_graduates`` if the archives record none; 409
    ``certificates_already_issued`` if every one has its certificate)."""
    found = await graduates(session, school, year)
    if not found:
        raise NotFound(
            f"school {school.code} has no graduates of {year} in the archives",
            rule="no_graduates",
        )
    done = set(
        (
            await session.execute(
                select(register.c.student_number).where(
                    register.c.school_code == school.code,
                    register.c.graduation_year == year,
                    register.c.kind == CERTIFICATE,
                )
            )
        ).scalars()
    )
    todo = [one for one in found if one.student_number not in done]
    if not todo:
        raise Conflict(
            f"every graduate of {school.code} in {year} has a certificate",
            rule="certificates_already_issued",
            article=ARTICLE,
        )
    first = await _allocate(session, school.county, year, len(todo))
    numbers = [auxiliary_number(school.county, year, first + n) for n in range(len(todo))]
    county = federation.county(school.county)
    county_name = county.name if county else school.county
    drafts = [
        certificate_draft(school, one, number, county_name, year, replaces=None, replaced_on=None)
        for one, number in zip(todo, numbers, strict=True)
    ]
    issued = await _issue(session, documents, drafts, request)
    await session.execute(
        insert(register),
        [
            _row(school, one, number, CERTIFICATE, year, issued_one, request, replaces=None)
            for one, number, issued_one in zip(todo, numbers, issued, strict=True)
        ],
    )
    return issued


async def _allocate(session: AsyncSession, county: str, year: int, count: int) -> int:
    """The first of ``count`` fresh serials of ``county`` in ``year`` (the row is updated in
    the request's transaction: a concurrent issue waits on it, PostgreSQL, or fails on the
    key, SQLite, and is retried by the registrar)."""
    key = (serial.c.county == county, serial.c.graduation_year == year)
    last = (await session.execute(select(serial.c.last).where(*key).with_for_update())).scalar()
    if last is None:
        await session.execute(insert(serial).values(county=county, graduation_year=year, last=0))
        last = 0
    await session.execute(update(serial).where(*key).values(last=last + count))
    return int(last) + 1


@dataclass(frozen=True)
class Entry:
    """A row of the county's register, as the county's officers see it."""

    number: str
    kind: str
    school_code: str
    student_number: str
    name: str
    outcome: str
    graduation_year: int
    status: str
    replaces: str | None
    document_id: str
    issued_on: date
    stamped_by: str | None
    stamped_at: datetime | None


async def register_of(
    session: AsyncSession, county: str, *, unstamped: bool, limit: int
) -> list[Entry]:
    """The county's register, by number (only what waits for its stamp if ``unstamped``)."""
    query = select(register).where(register.c.county == county)
    if unstamped:
        query = query.where(register.c.stamped_at.is_(None), register.c.status != "revoked")
    rows = await session.execute(query.order_by(register.c.number).limit(limit))
    return [_entry(row) for row in rows]


async def entry(session: AsyncSession, school: School, number: str) -> Entry:
    row = (await session.execute(select(register).where(register.c.number == number))).first()
    if row is None or row.school_code != school.code:
        raise NotFound(
            f"no certificate {number} of school {school.code}", rule="certificate_not_found"
        )
    return _entry(row)


async def stamp(
    session: AsyncSession, county: str, numbers: Sequence[str], *, by: str, at: datetime
) -> list[str]:
    """Record the county's stamping (验印) of ``numbers``: those of its register not stamped
    yet; the numbers stamped now, in order."""
    wanted = sorted(set(numbers))
    rows = await session.execute(
        select(register.c.number).where(
            register.c.county == county,
            register.c.number.in_(wanted),
            register.c.stamped_at.is_(None),
            register.c.status != "revoked",
        )
    )
    todo = sorted(rows.scalars())
    if todo:
        await session.execute(
            update(register)
            .where(register.c.number.in_(todo), register.c.stamped_at.is_(None))
            .values(stamped_by=by, stamped_at=at)
        )
    return todo


async def report_lost(
    session: AsyncSession,
    documents: Documents,
    federation: Federation,
    school: School,
    number: str,
    reason: str,
    request: Request,
) -> tuple[str, list[Issued]]:
    """The certificate ``number`` is lost: it is never reissued (ZJ art. 26); a 证明书 is
    issued instead and the original's document is superseded. 409 ``certificate_not_issued``
    for one already lost or revoked, or for a 证明书."""
    original = await entry(session, school, number)
    if original.kind != CERTIFICATE or original.status != "issued":
        raise Conflict(
            f"certificate {number} is {original.status}: a 证明书 replaces an issued certificate",
            rule="certificate_not_issued",
            article=ARTICLE,
        )
    earlier = (
        await session.execute(
            select(func.count()).select_from(register).where(register.c.replaces == number)
        )
    ).scalar_one()
    statement_number = f"{number}-Z{int(earlier) + 1}"
    county = federation.county(school.county)
    facts = await _facts(session, school, original.student_number)
    graduate = Graduate(
        original.student_number,
        original.name,
        facts.get("gender"),
        _date(facts.get("birth_date")),
        original.outcome,
        _year(facts.get("enrolled_on")),
    )
    draft = certificate_draft(
        school,
        graduate,
        statement_number,
        county.name if county else school.county,
        original.graduation_year,
        replaces=number,
        replaced_on=request.today,
    )
    issued = await _issue(session, documents, [draft], request)
    await session.execute(
        update(register)
        .where(register.c.number == number, register.c.status == "issued")
        .values(status="lost", lost_at=request.now)
    )
    await documents.register.supersede(
        session,
        original.document_id,
        reason=f"lost: 证明书 {statement_number} issued ({reason})",
        at=request.now,
    )
    await session.execute(
        insert(register).values(
            **_row(
                school,
                graduate,
                statement_number,
                STATEMENT,
                original.graduation_year,
                issued[0],
                request,
                replaces=number,
            )
        )
    )
    return statement_number, issued


async def revoke(
    session: AsyncSession,
    documents: Documents,
    school: School,
    number: str,
    *,
    reason: str,
    at: datetime,
) -> None:
    """Revoke certificate (or 证明书) ``number``: its verification answers ``revoked`` (409
    ``document_not_valid`` if it no longer stands)."""
    found = await entry(session, school, number)
    if not await documents.register.revoke(session, found.document_id, reason=reason, at=at):
        raise Conflict(f"certificate {number} is {found.status}", rule="document_not_valid")
    await session.execute(
        update(register).where(register.c.number == number).values(status="revoked")
    )


def unit_of(school: School) -> UnitRef:
    """The unit certificates are signed for: the province holding the register."""
    return UnitRef(tier=Tier.PROVINCE, code=school.province)


def certificate_draft(
    school: School,
    graduate: Graduate,
    number: str,
    county_name: str,
    year: int,
    *,
    replaces: str | None,
    replaced_on: date | None,
) -> Draft:
    kind = DOCUMENT_KIND[STATEMENT if replaces else CERTIFICATE]
    return Draft(
        kind=kind,
        unit=unit_of(school),
        unit_name=school.name,
        subject=graduate.student_number,
        subject_name=graduate.name,
        context={
            "student": {
                "name": graduate.name,
                "gender": graduate.gender,
                "birth_date": graduate.birth_date,
                "student_number": graduate.student_number,
            },
            "school": {"name": school.name, "code": school.code},
            "certificate": {
                "number": number,
                "outcome": graduate.outcome,
                "graduation_year": year,
                "enrolled_year": graduate.enrolled_year,
                "replaces": replaces,
                "replaced_on": replaced_on,
                "county_name": county_name,
            },
        },
    )


async def _issue(
    session: AsyncSession, documents: Documents, drafts: Sequence[Draft], request: Request
) -> list[Issued]:
    return await documents.issue(
        session,
        drafts,
        issued_by=request.issued_by,
        purpose=request.purpose,
        now=request.now,
        today=request.today,
    )


def _row(
    school: School,
    graduate: Graduate,
    number: str,
    kind: str,
    year: int,
    issued: Issued,
    request: Request,
    *,
    replaces: str | None,
) -> dict[str, Any]:
    return {
        "number": number,
        "kind": kind,
        "province": school.province,
        "county": school.county,
        "school_code": school.code,
        "student_number": graduate.student_number,
        "name": graduate.name,
        "outcome": graduate.outcome,
        "graduation_year": year,
        "enrolled_year": graduate.enrolled_year,
        "status": "issued",
        "replaces": replaces,
        "document_id": issued.document_id,
        "issued_at": request.now,
        "issued_on": request.today,
        "issued_by": request.issued_by,
    }


async def _facts(session: AsyncSession, school: School, student_number: str) -> dict[str, Any]:
    basic = (
        await session.execute(
            select(Archive.basic).where(
                Archive.province == school.province, Archive.student_number == student_number
            )
        )
    ).scalar()
    return dict(basic or {})


def _entry(row: Any) -> Entry:
    return Entry(
        number=row.number,
        kind=row.kind,
        school_code=row.school_code,
        student_number=row.student_number,
        name=row.name,
        outcome=row.outcome,
        graduation_year=row.graduation_year,
        status=row.status,
        replaces=row.replaces,
        document_id=row.document_id,
        issued_on=row.issued_on,
        stamped_by=row.stamped_by,
        stamped_at=row.stamped_at,
    )


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _year(value: Any) -> int | None:
    found = _date(value)
    return found.year if found else None
