"""Guardians, contacts and address edited by the school at the province (decision 0043), on
SQLite and PostgreSQL: no authority, each edit kept in section 1 with who made it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.testing import federation_copy
from shared.security.principal import Role
from shared.security.testing import FreshAuthHeaders, auth_headers
from tests.services.province.transfer_support import (
    JINSHUI_PRIMARY,
    ZHONGYUAN_PRIMARY,
    Province,
    number_of,
    province_service,
)

SCHOOL = ZHONGYUAN_PRIMARY
REGISTRAR = FreshAuthHeaders(f"school:{SCHOOL}", Role.REGISTRAR, username="chen.xueji")


@pytest.fixture
async def henan(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(federation_copy(tmp_path / "fed"), "41", database_url) as p:
        yield p


def path(number: str, school: str = SCHOOL) -> str:
    return f"/api/v1/schools/{school}/archives/{number}/contacts"


async def test_the_school_edits_contacts_and_section_1_keeps_each_edit(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    guardians = [{"name": "王母", "relation": "母亲", "phone": "13900000000"}]
    changed = await henan.client.post(
        path(number), json={"guardians": guardians, "address": "新址路 8 号"}, headers=REGISTRAR
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["after"] == {"guardians": guardians, "address": "新址路 8 号"}
    assert changed.json()["changed_by"] == "chen.xueji"

    archive = (await henan.client.get(f"/api/v1/schools/{SCHOOL}/archives/{number}")).json()
    assert archive["extended"]["guardians"] == guardians
    assert archive["extended"]["address"] == "新址路 8 号"
    [entry] = [e for e in archive["entries"] if e["kind"] == "contacts_change"]
    assert entry["section"] == "basic"
    assert entry["data"]["before"]["address"] != "新址路 8 号"
    assert (entry["data"]["changed_by"], entry["data"]["changed_unit"]) == (
        "chen.xueji",
        f"school:{SCHOOL}",
    )

    same = await henan.client.post(path(number), json={"address": "新址路 8 号"}, headers=REGISTRAR)
    assert (same.status_code, same.json()["rule"]) == (422, "contacts_no_change")
    basic = await henan.client.post(path(number), json={"name": "改名"}, headers=REGISTRAR)
    assert basic.status_code == 422  # a basic field is a key-field change, not an edit here


async def test_only_the_school_holding_the_archive_edits(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    other = auth_headers(f"school:{JINSHUI_PRIMARY}", Role.REGISTRAR)
    refused = await henan.client.post(
        path(number, JINSHUI_PRIMARY), json={"phone": "13700000000"}, headers=other
    )
    assert (refused.status_code, refused.json()["rule"]) == (404, "archive_not_found")
    reader = auth_headers(f"school:{SCHOOL}", Role.AUDITOR)
    forbidden = await henan.client.post(path(number), json={"phone": "1"}, headers=reader)
    assert forbidden.status_code == 403


async def test_the_school_edits_the_hukou_place_where_it_is_no_key_field(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    changed = await henan.client.post(
        path(number), json={"hukou_region": "410105"}, headers=REGISTRAR
    )
    assert changed.status_code == 200, changed.text
    archive = (await henan.client.get(f"/api/v1/schools/{SCHOOL}/archives/{number}")).json()
    assert archive["extended"]["hukou_region"] == "410105"
    [entry] = [e for e in archive["entries"] if e["kind"] == "contacts_change"]
    assert entry["data"]["after"] == {"hukou_region": "410105"}
    assert entry["data"]["before"]["hukou_region"] != "410105"
    bad = await henan.client.post(path(number), json={"hukou_region": "4101"}, headers=REGISTRAR)
    assert bad.status_code == 422


async def test_a_province_listing_hukou_place_as_key_field_refuses_the_edit(
    tmp_path: Path, database_url: str
) -> None:
    fields = ["name", "id_type", "id_number", "gender", "birth_date", "hukou_place"]
    config = federation_copy(tmp_path / "fed", rules={"41": {"key_fields": {"fields": fields}}})
    async with province_service(config, "41", database_url) as henan:
        number = number_of(await henan.archived_student(SCHOOL))
        refused = await henan.client.post(
            path(number), json={"hukou_region": "410105", "phone": "1"}, headers=REGISTRAR
        )
        assert refused.status_code == 422
        assert (refused.json()["rule"], refused.json()["article"]) == (
            "hukou_place_is_key_field",
            "N2013 art. 10",
        )
        archive = (await henan.client.get(f"/api/v1/schools/{SCHOOL}/archives/{number}")).json()
        assert archive["extended"].get("hukou_region") != "410105"
        assert not [e for e in archive["entries"] if e["kind"] == "contacts_change"]
        phone = await henan.client.post(path(number), json={"phone": "1"}, headers=REGISTRAR)
        assert phone.status_code == 200  # the other contacts stay the school's to edit
