"""Graduation certificates from the province's register (ZJ arts. 24-26, decision 0037), on
SQLite and PostgreSQL: numbered by the county's auxiliary numbers, printed from the archives
(read back with poppler), stamped by the county, a 证明书 for a lost one that supersedes it,
revocation, verification online and offline, authorization and audit."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from components.documents import statements
from components.documents import verify as offline
from components.documents.issuing import Documents
from devtools.testing import federation_copy
from services.province.adapters.certificate_tables import document_tables
from services.province.service_layer import certificates
from shared.audit.tables import audit_entry
from shared.contracts.graduation import GraduationBatchDecided, GraduationItem
from tests.components.documents import pdf
from tests.services.province.transfer_support import (
    HANGZHOU_PRIMARY,
    Province,
    number_of,
    province_service,
)
from tests.shared.audit import support
from tests.shared.audit.support import Principal

SCHOOL = HANGZHOU_PRIMARY  # 杭州市上城区胜利小学, county 330102
OTHER_SCHOOL = "3301060001"  # 杭州市西湖区学军小学, county 330106
REGISTRAR = Principal("zhou.registrar", "school", SCHOOL, frozenset({"registrar"}))
OTHER_REGISTRAR = Principal("wu.registrar", "school", OTHER_SCHOOL, frozenset({"registrar"}))
COUNTY_APPROVER = Principal("qian.approver", "county", "330102", frozenset({"approver"}))
OTHER_COUNTY = Principal("sun.approver", "county", "330106", frozenset({"approver"}))
CERTIFICATES = f"/api/v1/schools/{SCHOOL}/certificates"


@pytest.fixture
async def zhejiang(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(federation_copy(tmp_path / "fed"), "33", database_url) as p:
        yield p


async def graduated(zhejiang: Province, school: str, outcomes: dict[str, str]) -> list[str]:
    """Students of ``school`` whose graduation (the outcome by name) the archives record."""
    numbers = []
    for name in outcomes:
        info = await zhejiang.archived_student(school, name=name)
        numbers.append(number_of(info))
    await zhejiang.deliver(
        GraduationBatchDecided(
            batch_id=uuid.uuid4(),
            school_code=school,
            graduation_year=2027,
            outcome="approved",
            decided_by="national:CN",
            applied=tuple(
                GraduationItem(student_number=number, outcome=outcome)  # type: ignore[arg-type]
                for number, outcome in zip(numbers, outcomes.values(), strict=True)
            ),
            reason=None,
        )
    )
    return numbers


def client(zhejiang: Province, principal: Principal | None) -> httpx.AsyncClient:
    app = zhejiang.client._transport.app  # type: ignore[attr-defined]
    return support.as_user(app, principal, "http://province-33")


async def issue(zhejiang: Province, **params: str) -> httpx.Response:
    async with client(zhejiang, REGISTRAR) as registrar:
        return await registrar.post(CERTIFICATES, params={"graduation_year": "2027", **params})


async def test_a_class_gets_numbered_certificates_printed_from_the_archives(
    zhejiang: Province,
) -> None:
    numbers = await graduated(
        zhejiang, SCHOOL, {"王梓涵": "graduated", "李浩宇": "completed", "张一诺": "incomplete"}
    )
    answer = await issue(zhejiang)
    assert answer.status_code == 200, answer.text
    document = answer.content
    assert pdf.info(document).pages == 3 and pdf.info(document).a4
    assert all(font.embedded and font.unicode for font in pdf.fonts(document))
    pages = pdf.text(document).split("\f")
    ordered = sorted(zip(numbers, ("王梓涵", "李浩宇", "张一诺"), strict=True))
    for n, (student_number, name) in enumerate(ordered):
        page = " ".join(pages[n].split())
        assert "浙江省义务教育证书" in page
        auxiliary = f"3301022027{n + 1:06d}"  # the county's serials, in student-number order
        assert f"编号（学籍辅号）：{auxiliary}" in page
        assert f"姓名 {name}" in page and f"学籍号 {student_number}" in page
        assert "学校 杭州市上城区胜利小学（3301020001）" in page
        assert "杭州市上城区教育局（验印）" in page
    words = {"王梓涵": "毕业", "李浩宇": "结业", "张一诺": "肄业"}
    for n, (_number, name) in enumerate(ordered):
        assert f"准予{words[name]}" in "".join(pages[n].split())

    again = await issue(zhejiang)
    assert again.status_code == 409 and again.json()["rule"] == "certificates_already_issued"

    # the audit names every student
    async with zhejiang.runtime.sessions() as session:
        audited = set(
            (
                await session.execute(
                    select(audit_entry.c.object_id).where(
                        audit_entry.c.object_type == "graduation_certificate",
                        audit_entry.c.outcome == "ok",
                    )
                )
            ).scalars()
        )
    assert audited == set(numbers)


async def test_the_county_stamps_its_register_and_only_its_own(zhejiang: Province) -> None:
    await graduated(zhejiang, SCHOOL, {"陈思远": "graduated", "林雨桐": "graduated"})
    assert (await issue(zhejiang, format="zip")).status_code == 200
    register = "/api/v1/counties/330102/certificates"
    async with client(zhejiang, COUNTY_APPROVER) as county, client(zhejiang, OTHER_COUNTY) as other:
        waiting = (await county.get(register, params={"unstamped": "true"})).json()
        numbers = [row["number"] for row in waiting]
        assert len(numbers) == 2 and all(row["stamped_by"] is None for row in waiting)
        assert (await other.get(register)).status_code == 404
        foreign = await other.post(f"{register}/stamping", json={"numbers": numbers})
        assert foreign.status_code == 404

        stamped = await county.post(f"{register}/stamping", json={"numbers": numbers[:1]})
        assert stamped.json() == {"stamped": numbers[:1]}
        twice = await county.post(f"{register}/stamping", json={"numbers": numbers})
        assert twice.json() == {"stamped": numbers[1:]}  # the first keeps its stamp
        rows = {row["number"]: row for row in (await county.get(register)).json()}
    assert rows[numbers[0]]["stamped_by"] == "county:330102/qian.approver"
    assert rows[numbers[0]]["stamped_at"] is not None
    async with client(zhejiang, COUNTY_APPROVER) as county:
        assert (await county.get(register, params={"unstamped": "true"})).json() == []


async def test_a_zip_holds_one_pdf_per_student(zhejiang: Province) -> None:
    numbers = await graduated(zhejiang, SCHOOL, {"赵晨曦": "graduated", "钱佳怡": "graduated"})
    answer = await issue(zhejiang, format="zip")
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = sorted(archive.namelist())
        assert names == [f"certificate-3301022027{n:06d}.pdf" for n in (1, 2)]
        texts = [pdf.text(archive.read(name)) for name in names]
    assert [sorted(numbers)[n] in texts[n] for n in range(2)] == [True, True]


async def test_a_lost_certificate_gets_a_statement_that_supersedes_it(
    zhejiang: Province,
) -> None:
    [number] = await graduated(zhejiang, SCHOOL, {"周俊杰": "graduated"})
    certificate = (await issue(zhejiang)).content
    code = _code_of(certificate)
    original = f"3301022027{1:06d}"
    public = "/api/v1/documents/verifications"
    async with client(zhejiang, None) as anyone:
        genuine = (await anyone.get(f"{public}/{code}")).json()
        assert genuine["genuine"] and genuine["status"] == "valid"
        assert genuine["kind"] == "graduation_certificate"
        assert genuine["issuer"] == "province:33"
        assert genuine["issuer_name"] == "杭州市上城区胜利小学"

        # another school's registrar cannot touch it
        async with client(zhejiang, OTHER_REGISTRAR) as other:
            path = f"/api/v1/schools/{OTHER_SCHOOL}/certificates/{original}/loss"
            assert (await other.post(path, json={"reason": "遗失"})).status_code == 404
        async with client(zhejiang, REGISTRAR) as registrar:
            answer = await registrar.post(
                f"{CERTIFICATES}/{original}/loss", json={"reason": "本人申请：搬家时遗失"}
            )
            assert answer.status_code == 200, answer.text
            again = await registrar.post(
                f"{CERTIFICATES}/{original}/loss", json={"reason": "再次申请"}
            )
            assert again.json()["rule"] == "certificate_not_issued"
        statement = answer.content
        text = " ".join(pdf.text(statement).split())
        assert "义务教育毕业证明书" in text and f"{original}-Z1" in text
        assert f"编号{original}）已遗失" in "".join(pdf.text(statement).split())
        assert number in text and pdf.info(statement).pages == 1
        assert all(font.embedded for font in pdf.fonts(statement))

        superseded = (await anyone.get(f"{public}/{code}")).json()
        assert superseded["genuine"] and superseded["status"] == "superseded"
        replacement = (await anyone.get(f"{public}/{_code_of(statement)}")).json()
        assert (replacement["kind"], replacement["status"]) == ("graduation_statement", "valid")

        # revoked: the 证明书 answers revoked from now on
        async with client(zhejiang, REGISTRAR) as registrar:
            revoked = await registrar.post(
                f"{CERTIFICATES}/{original}-Z1/revocation", json={"reason": "信息有误"}
            )
            assert revoked.status_code == 204
        assert (await anyone.get(f"{public}/{_code_of(statement)}")).json()["status"] == "revoked"


async def test_the_qr_statement_verifies_online_and_offline_and_a_changed_byte_fails(
    zhejiang: Province, tmp_path: Path
) -> None:
    [number] = await graduated(zhejiang, OTHER_SCHOOL, {"吴欣怡": "graduated"})
    runtime = zhejiang.runtime
    documents = Documents(runtime.signer, runtime.trust, document_tables)
    school = runtime.federation.school(OTHER_SCHOOL)
    assert school is not None
    now = runtime.clock.now()
    request = certificates.Request("wu.registrar", None, now, runtime.clock.today())
    async with runtime.sessions() as session, session.begin():
        [issued] = await certificates.issue_for_class(
            session, documents, runtime.federation, school, 2027, request
        )
    token = issued.statement
    assert token is not None
    assert issued.context["certificate"]["number"] == "3301062027000001"  # its own county
    async with client(zhejiang, None) as anyone:
        keys = (await anyone.get("/api/v1/documents/keys")).json()
        online = (await anyone.post(PUBLIC, json={"statement": token})).json()
        changed = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
        tampered = (await anyone.post(PUBLIC, json={"statement": changed})).json()
    assert online["genuine"] and online["status"] == "valid"
    assert tampered["genuine"] is False
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps(keys), encoding="utf-8")
    assert offline.main([str(jwks), token]) == 0
    assert offline.main([str(jwks), changed]) == 1
    found = statements.verify(token, statements.keys_of_jwks(keys))
    assert (found.kind, found.subject, found.issuer) == (
        "graduation_certificate",
        number,
        "province:33",
    )


PUBLIC = "/api/v1/documents/verifications"


def _code_of(document: bytes) -> str:
    line = next(line for line in pdf.lines(document) if "验证码：" in line)
    return line.split("验证码：")[-1].strip().replace(" ", "")
