"""Graduation certificates (ZJ arts. 24-26) from the province's certificate register
(decision 0037): the school's registrar issues its graduating class's certificates (one PDF or
a zip of one PDF per student), the county records its stamping (验印), a lost certificate gets
a 证明书, a certificate can be revoked. Every certificate and 证明书 carries a signed statement
(QR code) and a verification code that the province's ``/api/v1/documents/verifications``
answers for (decision 0036).

Who: the school's own registrar issues, reports a loss and revokes (another school's
certificate is 404); the county's approvers (or an authority above it) read the county's
register and stamp. Every issue is audited per student.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from components.documents.issuing import Documents, Issued
from services.province.service_layer import certificates
from shared.audit.recording import annotate, audited, record_item
from shared.clock import Timestamp
from shared.federation.config import School, Tier
from shared.runtime.app import RuntimeDep, UnitOfWorkDep, require_hosted
from shared.runtime.errors import NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import Access, PathUnit, Reach, requires
from shared.security.principal import Role

THE_SCHOOL = PathUnit("school_code", Tier.SCHOOL)
THE_COUNTY = PathUnit("county_code", Tier.COUNTY)
RegistrarAccess = Annotated[Access, requires(Role.REGISTRAR, unit=THE_SCHOOL, reach=Reach.OWN)]
StampingAccess = Annotated[Access, requires(Role.APPROVER, unit=THE_COUNTY)]
RegisterAccess = Annotated[Access, requires(Role.APPROVER, Role.AUDITOR, unit=THE_COUNTY)]
Number = Annotated[str, Path(min_length=16, max_length=24, pattern=r"^[0-9]{16}(-Z[0-9]+)?$")]
PDF_OR_ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {}, "application/zip": {}},
        "description": "one PDF of every certificate, or a zip of one PDF per student",
    }
}


class RegisterEntry(BaseModel):
    number: str = Field(description="the auxiliary number (学籍辅号); …-Z<n> for a 证明书")
    kind: Literal["certificate", "statement"]
    school_code: str
    student_number: str
    name: str
    outcome: str
    graduation_year: int
    status: Literal["issued", "lost", "revoked"]
    replaces: str | None
    issued_on: date
    stamped_by: str | None
    stamped_at: Timestamp | None


class Stamping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[Annotated[str, Field(min_length=16, max_length=24)]] = Field(
        min_length=1, max_length=2000, description="the register's numbers stamped"
    )


class StampingRead(BaseModel):
    stamped: list[str] = Field(description="numbers stamped now (the others already were)")


class Loss(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500, description="the student's application")


class CertificateRevocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500)


def _school(runtime: ServiceRuntime, code: str) -> School:
    school = runtime.federation.school(code)
    if school is None or not runtime.hosts(school.province):
        raise NotFound(f"school {code} is not served here", rule="unit_not_served")
    return school


def _by(access: Access) -> str:
    principal = access.principal
    return f"{principal.unit_kind}:{principal.unit_code}/{principal.username}"[:60]


def _request(access: Access, runtime: RuntimeDep, purpose: str | None) -> certificates.Request:
    now = runtime.clock.now()
    return certificates.Request(_by(access), purpose, now, runtime.clock.today())


def _attachment(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def build_router(documents: Documents) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["certificates"])

    @router.post(
        "/schools/{school_code}/certificates",
        dependencies=[audited("issue", "graduation_certificate", object_id=None)],
        response_class=Response,
        responses=PDF_OR_ZIP,
        summary="Issue the graduating class's certificates (毕业/结业/肄业证书)",
    )
    async def issue_class(
        school_code: str,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        graduation_year: Annotated[int, Query(ge=2000, le=2100)],
        format: Annotated[Literal["pdf", "zip"], Query()] = "pdf",
    ) -> Response:
        """Every graduate of ``graduation_year`` the archives record (毕业, 结业 or 肄业, ZJ
        art. 25) without a certificate yet gets one, numbered by a fresh auxiliary number of
        the school's county and entered in its register for the county's stamping. 404
        ``no_graduates``; 409 ``certificates_already_issued``. One audit entry per student."""
        school = _school(runtime, school_code)
        request = _request(access, runtime, f"{graduation_year}届毕业证书")
        issued = await certificates.issue_for_class(
            uow.session, documents, runtime.federation, school, graduation_year, request
        )
        for one in issued:
            record_item(
                one.context["student"]["student_number"],
                unit_kind="school",
                unit_code=school.code,
                purpose=request.purpose,
            )
        if format == "zip":
            return _attachment(await _zip(documents, issued), "certificates.zip", "application/zip")
        pdf = await documents.render(certificates.TEMPLATE, issued)
        return _attachment(pdf, f"certificates-{school.code}-{graduation_year}.pdf")

    @router.get(
        "/counties/{county_code}/certificates",
        dependencies=[audited("list", "certificate_register", object_id="county_code")],
        response_model=list[RegisterEntry],
        summary="The county's certificate register (学籍辅号), e.g. what waits for its stamp",
    )
    async def county_register(
        county_code: str,
        access: RegisterAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        unstamped: bool = False,
        limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    ) -> list[RegisterEntry]:
        """By number; ``unstamped`` lists only the certificates and 证明书 still waiting for
        the county's 验印."""
        _county(runtime, county_code)
        rows = await certificates.register_of(
            uow.session, county_code, unstamped=unstamped, limit=limit
        )
        return [RegisterEntry(**_public(row)) for row in rows]

    @router.post(
        "/counties/{county_code}/certificates/stamping",
        dependencies=[audited("stamp", "certificate_register", object_id="county_code")],
        response_model=StampingRead,
        summary="Record the county's stamping (验印) of certificates in its register",
    )
    async def stamp(
        county_code: str,
        body: Stamping,
        access: StampingAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
    ) -> StampingRead:
        """ZJ art. 26: 县级及以上教育行政部门验印. Who and when are recorded on each row;
        numbers already stamped (or revoked, or of another county) are left as they are."""
        _county(runtime, county_code)
        stamped = await certificates.stamp(
            uow.session, county_code, body.numbers, by=_by(access), at=runtime.clock.now()
        )
        for number in stamped:
            record_item(number, unit_kind="county", unit_code=county_code)
        return StampingRead(stamped=stamped)

    @router.post(
        "/schools/{school_code}/certificates/{number}/loss",
        dependencies=[audited("issue", "graduation_statement", object_id="number")],
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "the 证明书 (A4)"},
            409: {"description": "Not an issued certificate (certificate_not_issued)"},
        },
        summary="Report a certificate lost and issue its 证明书 (never a new certificate)",
    )
    async def report_lost(
        school_code: str,
        number: Number,
        body: Loss,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
    ) -> Response:
        """ZJ art. 26: a lost certificate is not reissued; the school issues a 证明书,
        numbered ``<number>-Z<n>`` and registered, which the authority seals. From now on
        the lost certificate verifies as ``superseded``."""
        annotate(purpose=body.reason)
        school = _school(runtime, school_code)
        request = _request(access, runtime, body.reason)
        statement_number, issued = await certificates.report_lost(
            uow.session, documents, runtime.federation, school, number, body.reason, request
        )
        pdf = await documents.render(certificates.TEMPLATE, issued)
        return _attachment(pdf, f"statement-{statement_number}.pdf")

    @router.post(
        "/schools/{school_code}/certificates/{number}/revocation",
        dependencies=[audited("revoke", "graduation_certificate", object_id="number")],
        status_code=204,
        summary="Revoke a certificate or 证明书",
    )
    async def revoke(
        school_code: str,
        number: Number,
        body: CertificateRevocation,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
    ) -> Response:
        """Its verification answers ``revoked`` from now on (409 ``document_not_valid`` if
        it no longer stands)."""
        annotate(purpose=body.reason)
        school = _school(runtime, school_code)
        await certificates.revoke(
            uow.session, documents, school, number, reason=body.reason, at=runtime.clock.now()
        )
        return Response(status_code=204)

    return router


def _county(runtime: ServiceRuntime, code: str) -> None:
    county = runtime.federation.county(code)
    if county is None:
        raise NotFound(f"county {code} is not served here", rule="unit_not_served")
    require_hosted(runtime, county.province, "county")


def _public(row: certificates.Entry) -> dict[str, Any]:
    found = dict(row.__dict__)
    found.pop("document_id")
    return found


async def _zip(documents: Documents, issued: Sequence[Issued]) -> bytes:
    buffer = io.BytesIO()
    pdfs = await documents.render_each(certificates.TEMPLATE, issued)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for one, pdf in zip(issued, pdfs, strict=True):
            archive.writestr(f"certificate-{one.context['certificate']['number']}.pdf", pdf)
    return buffer.getvalue()
