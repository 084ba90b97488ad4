"""Guardians, contacts and address, as the school edits them in the archive (非基础学籍信息;
decision 0043). Thin: resolve the school and the registrar, call the use case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.province.entrypoints.discipline_http import RegistrarOfSchool
from services.province.entrypoints.http import hosted_school
from services.province.service_layer import contacts
from shared.audit.recording import audited
from shared.contracts.students import Guardian
from shared.rules import load_province_rules
from shared.runtime.app import UnitOfWorkDep
from shared.runtime.service import ServiceRuntime


class ContactsChange(BaseModel):
    """The fields to set; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    guardians: list[Guardian] | None = Field(default=None, min_length=1, max_length=4)
    address: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=1, max_length=20)
    hukou_region: str | None = Field(
        default=None,
        pattern=r"^[1-8][0-9]{5}$",
        description="户籍所在地 (6-digit division code); only where the province does not list "
        "hukou_place as a key field",
    )


class ContactsChanged(BaseModel):
    """Section 1's entry of the edit: the fields before and after, and who changed them."""

    before: dict[str, Any]
    after: dict[str, Any]
    changed_by: str
    changed_unit: str


def build_contacts_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/schools", tags=["archive"])

    @router.post(
        "/{school_code}/archives/{student_number}/contacts",
        response_model=ContactsChanged,
        summary="Change a student's guardians, phone, address or hukou place (非基础信息变更)",
        dependencies=[
            audited("change_contacts", "archive", object_id="student_number"),
            RegistrarOfSchool,
        ],
    )
    async def change_contacts(
        school_code: str,
        student_number: str,
        body: ContactsChange,
        request: Request,
        uow: UnitOfWorkDep,
    ) -> ContactsChanged:
        """Not a key field: the school's registrar edits it here directly, no authority
        approves; section 1 keeps each edit. The hukou place only where the province's
        ``[key_fields] fields`` do not list ``hukou_place`` (else 422
        ``hukou_place_is_key_field``). 422 ``contacts_no_change``; 404 ``archive_not_found``
        (not this school's live archive)."""
        school = hosted_school(runtime, school_code)
        editor = contacts.Editor(
            account=request.state.principal.username, unit=f"school:{school.code}"
        )
        values = body.model_dump(mode="json", exclude_none=True)
        data = await contacts.change_contacts(
            uow.session,
            school.province,
            school.code,
            student_number,
            values,
            editor,
            runtime.clock.now(),
            key_fields=load_province_rules(
                runtime.settings.federation_config, school.code
            ).key_fields.fields,
        )
        return ContactsChanged.model_validate(data)

    return router
