"""The school's documents through the real service (ASGI, real broker, SQLite and PostgreSQL):
printed from the roster, read back with poppler, authorized and masked as the API, audited,
and verifiable online by code and by QR statement; revoked and superseded ones say so."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import insert, select

from components.documents import credentials, statements
from components.documents.issuing import Documents, Draft
from components.documents.statements import NotGenuine
from services.school.adapters.orm import (
    document_tables,
    duplicate_resolution,
    registration,
    status_change,
    student,
    transfer_in,
)
from shared.audit.tables import audit_entry
from shared.federation.config import Tier, UnitRef
from shared.messaging.keys import development_keys
from tests.components.documents import pdf
from tests.services.school.conftest import PRIMARY, TODAY, Service, resident_id
from tests.services.school.test_status_changes import body as status_body
from tests.shared.audit import support
from tests.shared.audit.support import Principal

pytestmark = pytest.mark.broker

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
SECOND = "4101020002"  # another school of the same instance
REGISTRAR = Principal("li.registrar", "school", PRIMARY.code, frozenset({"registrar"}))
COUNTY_AUDITOR = Principal("wang.auditor", "county", PRIMARY.county, frozenset({"auditor"}))
OTHER_REGISTRAR = Principal("chen.registrar", "school", SECOND, frozenset({"registrar"}))
BASE = f"/api/v1/schools/{PRIMARY.code}"


def as_user(service: Service, principal: Principal | None) -> httpx.AsyncClient:
    return support.as_user(service.app, principal, "http://school")


async def on_roster(
    service: Service, name: str, *, school: str = PRIMARY.code, class_name: str = "一年级2班"
) -> dict[str, Any]:
    number = resident_id(date(2018, 3, 7), "female")
    row = {
        "school_code": school,
        "student_number": f"G{number}",
        "name": name,
        "gender": "female",
        "birth_date": date(2018, 3, 7),
        "id_type": "resident_id",
        "id_number": number,
        "nationality": "CHN",
        "ethnicity": "回族",
        "grade": 1,
        "enrolled_on": date(2024, 9, 1),
        "status": "enrolled",
        "class_name": class_name,
        "created_at": NOW,
        "updated_at": NOW,
    }
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(insert(student).values(**row))
    return row


def proof_path(number: str, school: str = PRIMARY.code) -> str:
    return f"/api/v1/schools/{school}/students/{number}/documents/registration-proof.pdf"


def code_of(document: bytes) -> str:
    footer = pdf.lines(document)[-1]
    return footer.split("验证码：")[1].strip()


async def verify(service: Service, code: str) -> dict[str, Any]:
    async with as_user(service, None) as anyone:
        response = await anyone.get(f"/api/v1/documents/verifications/{code}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_registrar_prints_the_proof_of_a_student_and_anyone_verifies_it(
    service: Service,
) -> None:
    pupil = await on_roster(service, "马小兰")
    async with as_user(service, REGISTRAR) as client:
        response = await client.get(
            proof_path(pupil["student_number"]),
            params={"purpose": "跨省转学"},
            headers={"X-Xueji-Purpose": quote("跨省转学")},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    document = response.content
    assert (pdf.info(document).pages, pdf.info(document).a4) == (1, True)
    assert all(font.embedded for font in pdf.fonts(document))
    lines = pdf.lines(document)
    assert lines[0] == "学籍证明"
    assert f"学籍号 {pupil['student_number']}" in lines
    assert f"证件类型 居民身份证 证件号码 {pupil['id_number']}" in lines
    assert "姓 名 马小兰 性 别 女" in lines
    assert "年级班级 一年级 一年级2班 学籍状态 在读" in lines
    assert f"就读学校 {PRIMARY.name}（学校代码 {PRIMARY.code}）" in lines
    assert "入学日期 2024年9月1日 用 途 跨省转学" in lines

    answer = await verify(service, code_of(document))
    assert answer == {
        "genuine": True,
        "kind": "registration_proof",
        "issuer": f"school:{PRIMARY.code}",
        "issuer_name": PRIMARY.name,
        "issued_on": TODAY.isoformat(),
        "status": "valid",
    }
    assert (await verify(service, "0000-0000-0000-0000"))["genuine"] is False

    async with service.runtime.sessions() as session:
        [entry] = (
            await session.execute(
                select(audit_entry).where(audit_entry.c.object_type == "registration_proof")
            )
        ).all()
    assert (entry.actor, entry.action, entry.object_id) == (
        "li.registrar",
        "issue",
        pupil["student_number"],
    )
    assert (entry.unit_code, entry.purpose, entry.outcome) == (PRIMARY.code, "跨省转学", "ok")


async def test_another_schools_student_and_unhosted_schools_answer_404(service: Service) -> None:
    pupil = await on_roster(service, "马小兰")
    theirs = await on_roster(service, "牛二", school=SECOND)
    async with as_user(service, OTHER_REGISTRAR) as other, as_user(service, REGISTRAR) as own:
        assert (await other.get(proof_path(pupil["student_number"]))).status_code == 404
        # a student of another school asked for under this school's path
        assert (await own.get(proof_path(theirs["student_number"]))).status_code == 404
        assert (await own.get(proof_path("G330102201803070011", "3301020001"))).status_code == 404
    async with as_user(service, COUNTY_AUDITOR) as auditor:
        # the proof speaks for the school: its own registrars only
        refused = await auditor.get(proof_path(pupil["student_number"]))
        assert refused.status_code in (403, 404)
    async with service.runtime.sessions() as session:
        issued = (await session.execute(select(document_tables.issued))).all()
    assert issued == []


async def test_the_basic_information_sheet_is_masked_as_the_api_is(service: Service) -> None:
    pupil = await on_roster(service, "马小兰")
    path = f"{BASE}/students/{pupil['student_number']}/documents/basic-info.pdf"
    number = pupil["id_number"]
    masked = number[:4] + "*" * 10 + number[-4:]
    async with as_user(service, COUNTY_AUDITOR) as auditor, as_user(service, REGISTRAR) as own:
        for_auditor = await auditor.get(path)
        for_registrar = await own.get(path)
    assert for_auditor.status_code == for_registrar.status_code == 200
    assert f"证件号码 {masked}" in pdf.lines(for_auditor.content)
    # as in the API, the G student number stays whole (shared/security/masking.py's limit)
    assert pdf.text(for_auditor.content).count(number) == 1
    assert f"证件号码 {number}" in pdf.lines(for_registrar.content)
    assert pdf.lines(for_auditor.content)[0] == "学生基本信息表"
    assert pdf.info(for_auditor.content).pages == 1


async def test_a_revoked_proof_answers_revoked_and_a_newer_one_supersedes(
    service: Service,
) -> None:
    pupil = await on_roster(service, "马小兰")
    async with as_user(service, REGISTRAR) as client:
        first = code_of((await client.get(proof_path(pupil["student_number"]))).content)
        second = code_of((await client.get(proof_path(pupil["student_number"]))).content)
        assert (await verify(service, first))["status"] == "superseded"
        assert (await verify(service, second))["status"] == "valid"
        async with service.runtime.sessions() as session:
            document_id = (
                await session.execute(
                    select(document_tables.issued.c.document_id).where(
                        document_tables.issued.c.code == second.replace("-", "")
                    )
                )
            ).scalar_one()
        revocation = f"{BASE}/documents/{document_id}/revocation"
        revoked = await client.post(revocation, json={"reason": "证明内容有误，已重新出具"})
        assert revoked.status_code == 200, revoked.text
        again = await client.post(revocation, json={"reason": "再次撤销"})
        assert (again.status_code, again.json()["code"]) == (409, "document_not_valid")
    assert (await verify(service, second))["status"] == "revoked"
    async with as_user(service, OTHER_REGISTRAR) as other:
        foreign = await other.post(
            f"/api/v1/schools/{SECOND}/documents/{document_id}/revocation",
            json={"reason": "不是本校出具的"},
        )
    assert foreign.status_code == 404


async def test_the_qr_statement_verifies_online_and_a_forgery_does_not(service: Service) -> None:
    runtime = service.runtime
    documents = Documents(runtime.signer, runtime.trust, document_tables)
    unit = UnitRef(tier=Tier.SCHOOL, code=PRIMARY.code)
    draft = Draft("registration_proof", unit, PRIMARY.name, "G410102201803070017", "张三", {})
    async with runtime.sessions() as session, session.begin():
        [issued] = await documents.issue(
            session, [draft], issued_by="li.registrar", purpose=None, now=NOW, today=TODAY
        )
    assert issued.statement is not None
    # a Zhejiang instance's genuine key, signing for a Henan school
    zhejiang = next(i.name for i in runtime.federation.instances if "3301020001" in i.units)
    signer, trust = development_keys(runtime.federation, zhejiang)
    forger = Documents(signer, trust, document_tables)
    [forged] = [forger._issue_one(draft, NOW, TODAY)]
    async with as_user(service, None) as anyone:
        keys = (await anyone.get("/api/v1/documents/keys")).json()
        genuine = await anyone.post(
            "/api/v1/documents/verifications", json={"statement": issued.statement}
        )
        tampered = issued.statement[:-3] + ("AAA" if issued.statement[-3:] != "AAA" else "BBB")
        changed = await anyone.post("/api/v1/documents/verifications", json={"statement": tampered})
        wrong_signer = await anyone.post(
            "/api/v1/documents/verifications", json={"statement": forged.statement}
        )
    assert genuine.json()["genuine"] is True and genuine.json()["status"] == "valid"
    assert set(genuine.json()) == {
        "genuine",
        "kind",
        "issuer",
        "issuer_name",
        "issued_on",
        "status",
    }
    assert changed.json()["genuine"] is False
    assert wrong_signer.json()["genuine"] is False
    own = next(key for key in keys["keys"] if key["kid"] == runtime.signer.key_id)
    assert PRIMARY.code[:6] in own["xueji_school_areas"]  # its area's schools (decision 0053)
    assert (own["kty"], own["crv"]) == ("OKP", "Ed25519")


async def test_a_class_prints_as_one_pdf_or_a_zip_with_an_audit_entry_each(
    service: Service,
) -> None:
    names = ["甲一", "乙二", "丙三"]
    pupils = [await on_roster(service, name, class_name="二年级1班") for name in names]
    await on_roster(service, "别班", class_name="二年级2班")
    path = f"{BASE}/classes/{quote('二年级1班')}/documents/registration-proofs"
    async with as_user(service, REGISTRAR) as client:
        whole = await client.get(path, params={"purpose": "毕业审核"})
        zipped = await client.get(path, params={"format": "zip"})
        empty = await client.get(
            f"{BASE}/classes/{quote('九年级9班')}/documents/registration-proofs"
        )
    assert whole.status_code == 200, whole.text
    assert pdf.info(whole.content).pages == 3
    text = pdf.text(whole.content)
    assert all(name in text for name in names) and "别班" not in text
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert sorted(archive.namelist()) == sorted(
        f"registration_proof-{p['student_number']}.pdf" for p in pupils
    )
    assert empty.status_code == 404
    async with service.runtime.sessions() as session:
        audited = (
            await session.execute(
                select(audit_entry.c.object_id, audit_entry.c.purpose).where(
                    audit_entry.c.object_type == "registration_proof",
                    audit_entry.c.outcome == "ok",
                )
            )
        ).all()
    assert sorted(audited, key=str) == sorted(
        [(p["student_number"], "毕业审核") for p in pupils]
        + [(p["student_number"], None) for p in pupils],
        key=str,
    )


# --- the Liangshan forms ----------------------------------------------------------------


async def test_the_suspension_form_is_filled_from_the_status_change(service: Service) -> None:
    pupil = await on_roster(service, "马小兰")
    async with as_user(service, REGISTRAR) as client:
        sent = await client.post(
            f"{BASE}/status-changes", json=status_body(pupil["student_number"])
        )
        assert sent.status_code == 202, sent.text
        change_id = sent.json()["change_id"]
        response = await client.get(f"{BASE}/status-changes/{change_id}/documents/application.pdf")
    assert response.status_code == 200, response.text
    document = response.content
    assert (pdf.info(document).pages, pdf.info(document).a4) == (1, True)
    assert all(font.embedded for font in pdf.fonts(document))
    lines = pdf.lines(document)
    assert lines[:2] == ["附表 2", "义务教育阶段学生休（复）学申请表"]
    assert "姓 名 马小兰 性 别 女" in lines
    assert "休学年级班级 一年级 一年级2班 拟休学时间 2025年2月20日" in lines
    assert any(line.startswith("因病需停课治疗") for line in lines)
    assert "复学年级班级 复学时间" in lines  # the other column stays empty
    assert any(line.startswith("主管教育局") for line in lines)
    answer = await verify(service, code_of(document))
    assert (answer["genuine"], answer["kind"], answer["status"]) == (
        True,
        "status_application",
        "valid",
    )


async def test_the_suspension_form_is_refused_for_other_changes(service: Service) -> None:
    pupil = await on_roster(service, "马小兰")
    change_id = str(uuid.uuid4())
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(
            insert(status_change).values(
                change_id=change_id,
                school_code=PRIMARY.code,
                student_number=pupil["student_number"],
                change="go_abroad",
                status="submitted",
                effective_on=date(2025, 2, 20),
                facts={},
                reason="随父母出国",
                submitted_at=NOW,
            )
        )
    async with as_user(service, REGISTRAR) as client:
        refused = await client.get(f"{BASE}/status-changes/{change_id}/documents/application.pdf")
        unknown = await client.get(
            f"{BASE}/status-changes/{uuid.uuid4()}/documents/application.pdf"
        )
    assert (refused.status_code, refused.json()["code"]) == (409, "document_not_applicable")
    assert unknown.status_code == 404


async def test_the_transfer_form_is_filled_from_the_transfer_in(service: Service) -> None:
    number = "G" + resident_id(date(2016, 5, 4), "male")
    transfer_id = str(uuid.uuid4())
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(
            insert(transfer_in).values(
                transfer_id=transfer_id,
                school_code=PRIMARY.code,
                student_number=number,
                from_school="4101050001",
                grade=3,
                class_name="三年级2班",
                reason="随父母工作调动迁居中原区",
                status="pending",
                requested_on=TODAY,
                requested_at=NOW,
            )
        )
    path = f"{BASE}/transfers-in/{transfer_id}/documents/application.pdf"
    async with as_user(service, REGISTRAR) as client, as_user(service, OTHER_REGISTRAR) as other:
        response = await client.get(path)
        foreign = await other.get(
            f"/api/v1/schools/{SECOND}/transfers-in/{transfer_id}/documents/application.pdf"
        )
    assert foreign.status_code == 404
    assert response.status_code == 200, response.text
    document = response.content
    assert pdf.info(document).pages == 1
    lines = pdf.lines(document)
    assert lines[:2] == ["附表 1", "义务教育阶段学生转学申请登记表"]
    sending = service.runtime.federation.school("4101050001")
    assert sending is not None
    text = pdf.text(document)
    assert number in text and number[1:] in text  # the student number and the ID inside it
    assert "出生日期 2016年5月4日" in " ".join(lines)
    assert "性 别 男" in " ".join(lines)
    assert sending.name in text
    assert any(f"{PRIMARY.name} 三年级 三年级2班" in line for line in lines)
    assert "随父母工作调动迁居中原区" in text


async def test_the_security_pledge_names_the_school_and_the_account(service: Service) -> None:
    async with as_user(service, REGISTRAR) as client:
        response = await client.get(f"{BASE}/documents/security-pledge.pdf")
    assert response.status_code == 200, response.text
    lines = pdf.lines(response.content)
    assert pdf.info(response.content).pages == 1
    assert lines[0] == "附表 4"
    assert f"承诺单位 {PRIMARY.name}（{PRIMARY.code}）" in lines
    assert f"系统账号 school:{PRIMARY.code}/li.registrar" in lines
    assert any("负责人（签字）" in line for line in lines)


async def test_the_attendance_proof_is_filled_from_the_refused_registration(
    service: Service,
) -> None:
    number = resident_id(date(2017, 4, 9), "female")
    registration_id, resolution_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(
            insert(registration).values(
                registration_id=registration_id,
                school_code=PRIMARY.code,
                batch_id=str(uuid.uuid4()),
                status="rejected",
                name="阿依莫",
                gender="female",
                birth_date=date(2017, 4, 9),
                id_type="resident_id",
                id_number=number,
                nationality="CHN",
                ethnicity="彝族",
                grade=2,
                enrolled_on=date(2024, 9, 1),
                rule="duplicate_registration",
                submitted_at=NOW,
                updated_at=NOW,
            )
        )
        await session.execute(
            insert(duplicate_resolution).values(
                resolution_id=resolution_id,
                school_code=PRIMARY.code,
                role="real",
                student_number=f"G{number}",
                registration_id=registration_id,
                other_school=SECOND,
                status="requested",
                reason="学生实际在本校就读",
                requested_at=NOW,
            )
        )
    path = f"{BASE}/duplicate-resolutions/{resolution_id}/documents/attendance-proof.pdf"
    async with as_user(service, REGISTRAR) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    lines = pdf.lines(response.content)
    assert pdf.info(response.content).pages == 1
    assert lines[:2] == ["附表 3", "学生实际在校就读证明表"]
    assert "学生姓名 阿依莫 性 别 女 出生日期 2017年4月9日" in lines
    assert f"身份证号 {number} 就读学校名称 {PRIMARY.name}" in lines
    assert any(line.startswith("年 级 二年级") for line in lines)


async def test_the_signed_pledge_is_uploaded_back_and_read(service: Service) -> None:
    scan = b"%PDF-1.4 signed and sealed pledge"
    pupil = await on_roster(service, "马小兰")
    async with as_user(service, REGISTRAR) as client:
        await client.get(f"{BASE}/documents/security-pledge.pdf")
        await client.get(proof_path(pupil["student_number"]))
        async with service.runtime.sessions() as session:
            rows = await session.execute(
                select(document_tables.issued.c.kind, document_tables.issued.c.document_id)
            )
            ids = {kind: document_id for kind, document_id in rows}
        pledge = f"{BASE}/documents/{ids['security_pledge']}/signed-scan"
        missing = await client.get(pledge)
        uploaded = await client.put(pledge, json=upload(scan))
        downloaded = await client.get(pledge)
        not_a_pledge = await client.put(
            f"{BASE}/documents/{ids['registration_proof']}/signed-scan", json=upload(scan)
        )
        not_a_scan = await client.put(pledge, json=upload(b"MZ\x90\x00 an executable"))
    assert (missing.status_code, missing.json()["code"]) == (404, "scan_not_found")
    assert uploaded.status_code == 204, uploaded.text
    assert (downloaded.status_code, downloaded.content) == (200, scan)
    assert (not_a_pledge.status_code, not_a_pledge.json()["code"]) == (
        409,
        "document_not_applicable",
    )
    assert (not_a_scan.status_code, not_a_scan.json()["code"]) == (415, "unsupported_scan")
    async with as_user(service, OTHER_REGISTRAR) as other:
        foreign = await other.put(
            f"/api/v1/schools/{SECOND}/documents/{ids['security_pledge']}/signed-scan",
            json=upload(scan),
        )
    assert foreign.status_code == 404


def upload(content: bytes) -> dict[str, str]:
    return {"filename": "承诺书.pdf", "content_base64": base64.b64encode(content).decode()}


# --- the student-status credential (N2025 art. 24) ----------------------------------------


async def test_a_status_credential_states_only_the_chosen_claims(service: Service) -> None:
    pupil = await on_roster(service, "马小兰")
    path = f"{BASE}/students/{pupil['student_number']}/status-credentials"
    async with as_user(service, REGISTRAR) as client:
        issued = await client.post(
            path, json={"claims": ["enrolled", "county", "grade"], "purpose": "义务教育补助核验"}
        )
        unknown = await client.post(path, json={"claims": ["address"], "purpose": "核验"})
    async with as_user(service, None) as anyone:
        jwks = (await anyone.get("/api/v1/documents/keys")).json()
    assert issued.status_code == 200, issued.text
    assert unknown.status_code == 422
    token = issued.json()["credential"]
    keys = statements.keys_of_jwks(jwks)
    now = datetime.now(UTC)
    claims = credentials.verify(token, keys, now)
    assert {k: claims[k] for k in ("enrolled", "county", "grade")} == {
        "enrolled": True,
        "county": PRIMARY.county,
        "grade": 1,
    }
    assert set(claims) == {"enrolled", "county", "grade", "iss", "jti", "iat", "exp", "as_of"}
    assert pupil["name"] not in token and "name" not in claims  # never in the token at all
    header, payload, signature = token.split(".")
    with pytest.raises(NotGenuine):
        credentials.verify(f"{header}.{payload[:-2]}AA.{signature}", keys, now)
    with pytest.raises(NotGenuine) as expired:
        credentials.verify(token, keys, now + timedelta(days=31))
    assert expired.value.reason == "expired"
    async with service.runtime.sessions() as session:
        [entry] = (
            await session.execute(
                select(audit_entry).where(
                    audit_entry.c.object_type == "status_credential", audit_entry.c.outcome == "ok"
                )
            )
        ).all()
    assert (entry.object_id, entry.purpose) == (pupil["student_number"], "义务教育补助核验")


# --- the factual certificate (ZJ art. 27) and the dropout report (N2013 art. 22) -----------


async def foreign_pupil(service: Service, status: str) -> dict[str, Any]:
    row = await on_roster(service, "SMITH JOHN")
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(
            student.update()
            .where(student.c.student_number == row["student_number"])
            .values(nationality="USA", id_type="passport", id_number="P1234567", status=status)
        )
    return {**row, "nationality": "USA", "status": status}


def factual_path(number: str, school: str = PRIMARY.code) -> str:
    return f"/api/v1/schools/{school}/students/{number}/documents/factual-certificate.pdf"


async def test_a_foreign_student_who_did_not_finish_gets_a_factual_certificate(
    service: Service,
) -> None:
    pupil = await foreign_pupil(service, "abroad")
    chinese = await on_roster(service, "张小明")
    studying = await foreign_pupil(service, "enrolled")
    async with as_user(service, REGISTRAR) as client, as_user(service, OTHER_REGISTRAR) as other:
        response = await client.get(factual_path(pupil["student_number"]))
        refused = await client.get(factual_path(chinese["student_number"]))
        enrolled = await client.get(factual_path(studying["student_number"]))
        foreign = await other.get(factual_path(pupil["student_number"], SECOND))
    assert response.status_code == 200, response.text
    assert refused.json()["rule"] == "not_a_foreign_student"
    assert enrolled.json()["rule"] == "still_studying"
    assert foreign.status_code == 404  # not a student of that school
    document = response.content
    assert (pdf.info(document).pages, pdf.info(document).a4) == (1, True)
    assert all(font.embedded and font.unicode for font in pdf.fonts(document))
    lines = pdf.lines(document)
    assert lines[0] == "写实性证明"
    text = "".join(lines)
    assert "兹证明SMITHJOHN" in text.replace(" ", "")
    assert "未按计划完成全部学业" in text and "境外就读" in text
    assert f"学籍号 {pupil['student_number']}" in lines
    assert "证件类型 护照 证件号码 P1234567" in lines
    assert "就读学校 郑州市中原区第一实验小学（学校代码 4101020001）" in lines
    assert "核定（章）" in text  # the authority's seal box (ZJ art. 27)
    answer = await verify(service, code_of(document))
    assert (answer["genuine"], answer["kind"], answer["status"]) == (
        True,
        "factual_certificate",
        "valid",
    )
    async with service.runtime.sessions() as session:
        [entry] = (
            await session.execute(
                select(audit_entry).where(
                    audit_entry.c.object_type == "factual_certificate",
                    audit_entry.c.outcome == "ok",
                )
            )
        ).all()
    assert (entry.actor, entry.object_id) == ("li.registrar", pupil["student_number"])


async def test_the_dropout_report_is_filled_from_the_dropout(service: Service) -> None:
    pupil = await on_roster(service, "马小军")
    change_id, suspension = str(uuid.uuid4()), str(uuid.uuid4())
    async with service.runtime.sessions() as session, session.begin():
        for identifier, change in ((change_id, "report_dropout"), (suspension, "suspend")):
            await session.execute(
                insert(status_change).values(
                    change_id=identifier,
                    school_code=PRIMARY.code,
                    student_number=pupil["student_number"],
                    change=change,
                    status="applied",
                    effective_on=date(2025, 2, 24),
                    facts={},
                    reason="连续旷课二十日以上，多次家访劝返未果",
                    submitted_at=NOW,
                )
            )
    path = f"{BASE}/status-changes/{{}}/documents/dropout-report.pdf"
    async with as_user(service, REGISTRAR) as client, as_user(service, OTHER_REGISTRAR) as other:
        response = await client.get(path.format(change_id))
        refused = await client.get(path.format(suspension))
        foreign = await other.get(
            f"/api/v1/schools/{SECOND}/status-changes/{change_id}/documents/dropout-report.pdf"
        )
    assert response.status_code == 200, response.text
    assert (refused.status_code, refused.json()["code"]) == (409, "document_not_applicable")
    assert foreign.status_code == 404
    document = response.content
    assert (pdf.info(document).pages, pdf.info(document).a4) == (1, True)
    assert all(font.embedded for font in pdf.fonts(document))
    lines = pdf.lines(document)
    assert lines[0] == "义务教育阶段学生辍学情况报告"
    assert any(line.endswith("人民政府、郑州市中原区教育局：") for line in lines)
    assert "姓 名 马小军 性 别 女" in lines
    assert f"学籍号 {pupil['student_number']}" in lines
    assert "辍学日期 2025年2月24日 学籍状态 辍学（保留学籍）" in lines
    assert any(line.startswith("连续旷课二十日以上，多次家访劝返未果") for line in lines)
    answer = await verify(service, code_of(document))
    assert (answer["genuine"], answer["kind"]) == (True, "dropout_report")
