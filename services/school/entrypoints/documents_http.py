"""Documents the school prints: a student's registration proof and basic-information sheet,
a class's proofs in one PDF or a zip, and revocation (issue 17, decision 0036).

Who may print what follows the API: the registration proof speaks for the school, so only its
own registrars issue it; the basic-information sheet is a print of the roster, so every reader
of the school may print it, with the identity document masked as the API masks it. A student
of another school, or of a school this instance does not host, is 404. Each issued document
is recorded (with its code) and audited: who (the principal), what (the action names the
kind), for whom (the student number), why (``purpose`` or ``X-Xueji-Purpose``).
"""

from __future__ import annotations

import base64
import binascii
import io
import uuid
import zipfile
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from components.documents import credentials
from components.documents.issuing import Documents, Issued
from components.documents.registry import Recorded, Scan
from services.school.config import PROOF_BODY_LIMIT
from services.school.entrypoints.http import THE_SCHOOL, SchoolDep, SettingsDep, TodayDep
from services.school.service_layer import documents as school_documents
from services.school.service_layer import roster
from services.school.service_layer.documents import StudentDocument
from services.school.service_layer.errors import PayloadTooLarge, UnsupportedMediaType
from shared.audit.recording import annotate, audited, record_item
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.security.authz import READERS, Access, Reach, requires
from shared.security.masking import needs_masking
from shared.security.principal import Role

RegistrarAccess = Annotated[Access, requires(Role.REGISTRAR, unit=THE_SCHOOL, reach=Reach.OWN)]
ReaderAccess = Annotated[Access, requires(*READERS, unit=THE_SCHOOL)]
Purpose = Annotated[
    str | None,
    Query(max_length=200, description="why it is printed (e.g. 转学); audited, printed"),
]
ClassName = Annotated[str, Path(min_length=1, max_length=40)]
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the PDF (A4)"}
}


class RevocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500, description="why it no longer stands")


class RevocationRead(BaseModel):
    document_id: str
    status: Literal["revoked"] = "revoked"


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: list[
        Literal[
            "enrolled", "status", "grade", "county", "province", "school", "student_number", "name"
        ]
    ] = Field(min_length=1, max_length=8, description="what the credential states, nothing more")
    purpose: str = Field(min_length=2, max_length=200, description="why it is issued (audited)")


class CredentialRead(BaseModel):
    credential: str = Field(description="compact JWS (EdDSA), typ xueji-status+jwt")
    claims: dict[str, Any]


class ScanUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=120)
    content_base64: str = Field(min_length=4, max_length=16_000_000)


DocumentId = Annotated[str, Path(min_length=36, max_length=36)]


async def _own_document(
    documents: Documents, uow: UnitOfWorkDep, school_code: str, document_id: str
) -> Recorded:
    found = await documents.register.by_id(uow.session, document_id)
    if found is None or found.unit != f"school:{school_code}":
        raise NotFound(
            f"no document {document_id} of school {school_code}", rule="document_not_found"
        )
    return found


def _decoded(content_base64: str, limit: int) -> bytes:
    try:
        content = base64.b64decode(content_base64, validate=True)
    except binascii.Error as exc:
        raise DomainError("content_base64 is not base64", rule="invalid_base64") from exc
    if len(content) > limit:
        raise PayloadTooLarge(f"the scan is over {limit} bytes", rule="scan_too_large")
    if not content.startswith(SCAN_SIGNATURES):
        raise UnsupportedMediaType("a scan is a PDF, JPEG or PNG file", rule="unsupported_scan")
    return content


SCAN_SIGNATURES = (b"%PDF-", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _issuer(access: Access) -> str:
    principal = access.principal
    return f"{principal.unit_kind}:{principal.unit_code}/{principal.username}"


def _attachment(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _request(
    access: Access, purpose: str | None, runtime: RuntimeDep, on: TodayDep
) -> school_documents.Request:
    if purpose:
        annotate(purpose=purpose)
    return school_documents.Request(
        issued_by=_issuer(access),
        purpose=purpose,
        mask_id=needs_masking(access.principal),
        now=runtime.clock.now(),
        today=on,
    )


def build_router(documents: Documents) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["documents"])

    async def one(
        school: SchoolDep,
        student_number: str,
        kind: StudentDocument,
        request: school_documents.Request,
        uow: UnitOfWorkDep,
    ) -> Response:
        issued = await school_documents.issue_for_student(
            uow.session, documents, school, student_number.strip().upper(), kind, request
        )
        pdf = await documents.render(kind.template, issued)
        return _attachment(
            pdf, f"{kind.value}-{issued[0].context['student']['student_number']}.pdf"
        )

    @router.get(
        "/schools/{school_code}/students/{student_number}/documents/registration-proof.pdf",
        dependencies=[audited("issue", "registration_proof", object_id="student_number")],
        response_class=Response,
        responses=PDF,
        summary="Issue the student's registration proof (学籍证明)",
    )
    async def registration_proof(
        school: SchoolDep,
        student_number: str,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """The school certifies who the student is, since when they attend and in which
        status (HA art. 11(二)). A new proof supersedes the student's earlier one. The QR code
        and the code in the footer verify it at ``/api/v1/documents/verifications``."""
        request = _request(access, purpose, runtime, on)
        return await one(school, student_number, StudentDocument.REGISTRATION_PROOF, request, uow)

    @router.get(
        "/schools/{school_code}/students/{student_number}/documents/basic-info.pdf",
        dependencies=[audited("issue", "basic_info", object_id="student_number")],
        response_class=Response,
        responses=PDF,
        summary="Print the student's basic-information sheet (学生基本信息表)",
    )
    async def basic_info(
        school: SchoolDep,
        student_number: str,
        access: ReaderAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """The basic info on the roster (LS 2(一)); identity documents masked for readers
        without the registrar or approver role."""
        request = _request(access, purpose, runtime, on)
        return await one(school, student_number, StudentDocument.BASIC_INFO, request, uow)

    @router.get(
        "/schools/{school_code}/classes/{class_name}/documents/registration-proofs",
        dependencies=[audited("issue", "registration_proof", object_id=None)],
        response_class=Response,
        responses={
            200: {
                "content": {"application/pdf": {}, "application/zip": {}},
                "description": "one PDF of every proof, or a zip of one PDF per student",
            }
        },
        summary="Issue the registration proofs of a whole class (batch printing)",
    )
    async def class_proofs(
        school: SchoolDep,
        class_name: ClassName,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
        format: Annotated[Literal["pdf", "zip"], Query()] = "pdf",
    ) -> Response:
        """Every student of the class still holding the school's registration, in
        student-number order: one PDF (one page each) or a zip of one PDF per student. One
        audit entry per student."""
        kind = StudentDocument.REGISTRATION_PROOF
        request = _request(access, purpose, runtime, on)
        issued = await school_documents.issue_for_class(
            uow.session, documents, school, class_name, kind, request
        )
        for one_issued in issued:
            record_item(
                one_issued.context["student"]["student_number"],
                unit_kind="school",
                unit_code=school.code,
                purpose=purpose,
            )
        if format == "zip":
            return _attachment(
                await _zip(documents, kind, issued), f"{kind.value}s.zip", "application/zip"
            )
        return _attachment(await documents.render(kind.template, issued), f"{kind.value}s.pdf")

    @router.get(
        "/schools/{school_code}/transfers-in/{transfer_id}/documents/application.pdf",
        dependencies=[audited("issue", "transfer_application", object_id="transfer_id")],
        response_class=Response,
        responses=PDF,
        summary="附表1: the transfer application form (转学申请登记表) of a transfer in",
    )
    async def transfer_application(
        school: SchoolDep,
        transfer_id: uuid.UUID,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """Liangshan's 附表1 (LS 2(一)), pre-filled from the transfer the school started;
        the guardian's signature and the school's seal are blank boxes."""
        request = _request(access, purpose, runtime, on)
        issued = await school_documents.transfer_application(
            uow.session, documents, runtime.federation, school, transfer_id, request
        )
        pdf = await documents.render("transfer_application.html", issued)
        return _attachment(pdf, f"transfer_application-{transfer_id}.pdf")

    @router.get(
        "/schools/{school_code}/status-changes/{change_id}/documents/application.pdf",
        dependencies=[audited("issue", "status_application", object_id="change_id")],
        response_class=Response,
        responses={
            **PDF,
            409: {"description": "Not a suspension or resumption (document_not_applicable)"},
        },
        summary="附表2: the suspension / resumption application form (休（复）学申请表)",
    )
    async def status_application(
        school: SchoolDep,
        change_id: uuid.UUID,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """Liangshan's 附表2 (LS 2(二)) from a suspension or resumption the school submitted
        (409 ``document_not_applicable`` for other changes)."""
        request = _request(access, purpose, runtime, on)
        issued = await school_documents.status_application(
            uow.session, documents, school, change_id, request
        )
        pdf = await documents.render("status_application.html", issued)
        return _attachment(pdf, f"status_application-{change_id}.pdf")

    @router.get(
        "/schools/{school_code}/students/{student_number}/documents/factual-certificate.pdf",
        dependencies=[audited("issue", "factual_certificate", object_id="student_number")],
        response_class=Response,
        responses={
            **PDF,
            409: {"description": "Not a foreign student, or still studying"},
        },
        summary="写实性证明: the factual certificate of a foreign student who did not finish",
    )
    async def factual_certificate(
        school: SchoolDep,
        student_number: str,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """ZJ art. 27: what a foreign student who did not finish studied here, when, and in
        which grade; signed (QR code) like a proof; the authority's 核定 is a blank seal box.
        409 ``not_a_foreign_student`` / ``still_studying``."""
        request = _request(access, purpose, runtime, on)
        number = student_number.strip().upper()
        issued = await school_documents.factual_certificate(
            uow.session, documents, school, number, request
        )
        pdf = await documents.render("factual_certificate.html", issued)
        return _attachment(pdf, f"factual_certificate-{number}.pdf")

    @router.get(
        "/schools/{school_code}/status-changes/{change_id}/documents/dropout-report.pdf",
        dependencies=[audited("issue", "dropout_report", object_id="change_id")],
        response_class=Response,
        responses={
            **PDF,
            409: {"description": "Not a reported dropout (document_not_applicable)"},
        },
        summary="辍学情况报告: the dropout report to the township and the county",
    )
    async def dropout_report(
        school: SchoolDep,
        change_id: uuid.UUID,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """N2013 art. 22: the school reports a dropout in writing to the township government
        and the county education bureau, keeping the registration; from a ``report_dropout``
        change the school submitted (409 ``document_not_applicable`` otherwise)."""
        request = _request(access, purpose, runtime, on)
        issued = await school_documents.dropout_report(
            uow.session, documents, runtime.federation, school, change_id, request
        )
        pdf = await documents.render("dropout_report.html", issued)
        return _attachment(pdf, f"dropout_report-{change_id}.pdf")

    @router.get(
        "/schools/{school_code}/duplicate-resolutions/{resolution_id}/documents/"
        "attendance-proof.pdf",
        dependencies=[audited("issue", "attendance_proof", object_id="resolution_id")],
        response_class=Response,
        responses=PDF,
        summary="附表3: the proof of actual attendance (学生实际在校就读证明表)",
    )
    async def attendance_proof(
        school: SchoolDep,
        resolution_id: uuid.UUID,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """Liangshan's 附表3 (LS 2(三)) for a duplicate resolution the school asked for as the
        school the student really attends; signatures and the seal are blank boxes."""
        request = _request(access, purpose, runtime, on)
        issued = await school_documents.attendance_proof(
            uow.session, documents, school, resolution_id, request
        )
        pdf = await documents.render("attendance_proof.html", issued)
        return _attachment(pdf, f"attendance_proof-{resolution_id}.pdf")

    @router.get(
        "/schools/{school_code}/documents/security-pledge.pdf",
        dependencies=[audited("issue", "security_pledge", object_id=None)],
        response_class=Response,
        responses=PDF,
        summary="附表4: the data-management security pledge (数据管理安全承诺书) of the school",
    )
    async def security_pledge(
        school: SchoolDep,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        on: TodayDep,
        purpose: Purpose = None,
    ) -> Response:
        """Liangshan's 附表4 (LS part 7) for the school and the registrar's account, to be
        signed, sealed and kept on file."""
        request = _request(access, purpose, runtime, on)
        account = f"{access.principal.unit_kind}:{access.principal.unit_code}/" + (
            access.principal.username
        )
        issued = await school_documents.security_pledge(
            uow.session, documents, school, account, request
        )
        pdf = await documents.render("security_pledge.html", issued)
        return _attachment(pdf, f"security_pledge-{school.code}.pdf")

    @router.put(
        "/schools/{school_code}/documents/{document_id}/signed-scan",
        max_body_size=PROOF_BODY_LIMIT,  # a base64 scan (decision 0026)
        dependencies=[audited("upload_scan", "document")],
        status_code=204,
        responses={
            413: {"description": "The scan is too large (scan_too_large)"},
            415: {"description": "Not a PDF, JPEG or PNG file (unsupported_scan)"},
        },
        summary="Upload the signed and sealed scan of a security pledge (附表4)",
    )
    async def upload_scan(
        school: SchoolDep,
        document_id: DocumentId,
        body: ScanUpload,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
        settings: SettingsDep,
    ) -> Response:
        """The pledge the school printed, signed and sealed, scanned as PDF, JPEG or PNG (at
        most ``XUEJI_SCHOOL_MAX_PROOF_BYTES``); a new upload replaces the earlier one. 409
        ``document_not_applicable`` for a document other than a pledge."""
        found = await _own_document(documents, uow, school.code, document_id)
        if found.kind != "security_pledge":
            raise Conflict(
                f"document {document_id} is a {found.kind}, not a security pledge",
                rule="document_not_applicable",
            )
        content = _decoded(body.content_base64, settings.max_proof_bytes)
        scan = Scan(body.filename, content, _issuer(access), runtime.clock.now())
        await documents.register.store_scan(uow.session, document_id, scan)
        return Response(status_code=204)

    @router.get(
        "/schools/{school_code}/documents/{document_id}/signed-scan",
        dependencies=[audited("read_scan", "document")],
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}}}},
        summary="The uploaded signed scan of a document",
    )
    async def download_scan(
        school: SchoolDep, document_id: DocumentId, access: ReaderAccess, uow: UnitOfWorkDep
    ) -> Response:
        """404 ``scan_not_found`` until one is uploaded."""
        await _own_document(documents, uow, school.code, document_id)
        scan = await documents.register.read_scan(uow.session, document_id)
        if scan is None:
            raise NotFound(f"document {document_id} has no signed scan yet", rule="scan_not_found")
        return _attachment(scan.content, f"signed-scan-{document_id}", "application/octet-stream")

    @router.post(
        "/schools/{school_code}/students/{student_number}/status-credentials",
        dependencies=[audited("issue", "status_credential", object_id="student_number")],
        response_model=CredentialRead,
        summary="Issue a student-status credential with the chosen claims (N2025 art. 24)",
    )
    async def status_credential(
        school: SchoolDep,
        student_number: str,
        body: CredentialCreate,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
    ) -> CredentialRead:
        """A compact JWS signed by this instance, stating only ``claims`` (e.g. ``enrolled``,
        ``county``, ``grade``) as of today, valid 30 days; another system verifies it with
        ``/api/v1/documents/keys``. ``purpose`` is audited."""
        annotate(purpose=body.purpose)
        row = await roster.get_student(uow.session, school.code, student_number.strip().upper())
        available = {
            "enrolled": row.status == "enrolled",
            "status": row.status,
            "grade": row.grade,
            "county": school.county,
            "province": school.province,
            "school": school.code,
            "student_number": row.student_number,
            "name": row.name,
        }
        chosen: dict[str, Any] = {str(name): available[name] for name in body.claims}
        token = credentials.issue(
            chosen,
            issuer=f"school:{school.code}",
            key_id=documents.signer.key_id,
            private_key=documents.signer.private_key,
            now=runtime.clock.now(),
        )
        return CredentialRead(credential=token, claims=chosen)

    @router.post(
        "/schools/{school_code}/documents/{document_id}/revocation",
        dependencies=[audited("revoke", "document")],
        response_model=RevocationRead,
        summary="Revoke a document the school issued",
    )
    async def revoke(
        school: SchoolDep,
        document_id: DocumentId,
        body: RevocationCreate,
        access: RegistrarAccess,
        runtime: RuntimeDep,
        uow: UnitOfWorkDep,
    ) -> RevocationRead:
        """From now on its verification answers ``revoked`` (409 ``document_not_valid`` if it
        was already revoked or superseded)."""
        annotate(purpose=body.reason)
        found = await _own_document(documents, uow, school.code, document_id)
        revoked = await documents.register.revoke(
            uow.session, document_id, reason=body.reason, at=runtime.clock.now()
        )
        if not revoked:
            raise Conflict(f"document {document_id} is {found.status}", rule="document_not_valid")
        return RevocationRead(document_id=document_id)

    return router


async def _zip(documents: Documents, kind: StudentDocument, issued: Sequence[Issued]) -> bytes:
    buffer = io.BytesIO()
    pdfs = await documents.render_each(kind.template, issued)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for one, pdf in zip(issued, pdfs, strict=True):
            number = one.context["student"]["student_number"]
            archive.writestr(f"{kind.value}-{number}.pdf", pdf)
    return buffer.getvalue()
