"""The public side of documents: the published keys and the verification endpoints.

Anyone holding a document may call them, without an account; they answer only what the
paper already shows (genuine, issuer, date, whether it stands), and every call is audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from components.documents.issuing import Documents, Verdict
from components.documents.registry import DocumentStatus
from shared.audit.recording import audited
from shared.runtime.app import RuntimeDep
from shared.security.authz import public


class VerdictRead(BaseModel):
    """A verification's whole answer: nothing beyond what the document prints."""

    genuine: bool = Field(description="issued by this system and unaltered")
    kind: str | None = Field(None, description="registration_proof, basic_info, …")
    issuer: str | None = Field(None, description="the issuing unit, e.g. school:4101020001")
    issuer_name: str | None = None
    issued_on: date | None = None
    status: DocumentStatus | None = Field(None, description="valid, revoked or superseded")

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictRead:
        return cls(**verdict.__dict__)


Code = Annotated[
    str,
    Path(min_length=16, max_length=24, pattern=r"^[0-9A-Za-z-]+$", description="as printed"),
]


class StatementCheck(BaseModel):
    statement: str = Field(min_length=20, max_length=4000, description="the QR code's text")


def documents_router(documents: Documents) -> APIRouter:
    router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

    @router.get(
        "/keys",
        dependencies=[audited("read", "document_keys", object_id=None), public()],
        summary="The keys documents are signed with (JWKS)",
    )
    async def keys() -> dict[str, Any]:
        """Every instance's Ed25519 public key as a JSON Web Key Set, each with the units it
        may sign for (``xueji_units``; a school instance's key its areas,
        ``xueji_school_areas``): what an offline verifier needs
        (``python -m components.documents.verify``)."""
        return documents.jwks()

    @router.get(
        "/verifications/{code}",
        dependencies=[audited("verify", "document"), public()],
        response_model=VerdictRead,
        summary="Check a document by the verification code printed on it",
    )
    async def verify_code(code: Code, runtime: RuntimeDep) -> VerdictRead:
        """``genuine`` false for a code this service never issued; else the issuer, the date
        and the status (``valid``, ``revoked``, ``superseded``)."""
        async with runtime.sessions() as session:
            return VerdictRead.of(await documents.verify_code(session, code))

    @router.post(
        "/verifications",
        dependencies=[audited("verify", "document", object_id=None), public()],
        response_model=VerdictRead,
        summary="Check a document by its QR code (the signed statement)",
    )
    async def verify_statement(body: StatementCheck, runtime: RuntimeDep) -> VerdictRead:
        """The statement must be signed by a key that speaks for its issuing unit and match
        the register; one changed character makes it not genuine."""
        async with runtime.sessions() as session:
            return VerdictRead.of(await documents.verify_statement(session, body.statement))

    return router
