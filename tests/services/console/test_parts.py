"""The console's parts without a browser: the session cookie, refusal wording, dates, and the
security headers and CSRF refusal of the app itself (no federation needed for those)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient

from services.console.account_pages import state_of, units_below
from services.console.api import ApiError, error_of, unit_of_code
from services.console.app import build_app
from services.console.authority_pages import PROOF_CSP, _linked, _proof_response
from services.console.catalogue import refusal, reject_reasons
from services.console.session import Session, SessionCodec
from services.console.settings import ConsoleSettings
from services.console.web import zh_date, zh_datetime
from shared.federation.config import Tier, UnitRef, load_federation


def test_the_session_cookie_is_encrypted_and_refused_when_tampered() -> None:
    codec = SessionCodec("a-key-of-thirty-two-characters-or-more")
    session = Session(token="header.payload.sig", username="li", unit="school:4101020001")
    value = codec.dumps(session)
    assert "header.payload.sig" not in value and "school" not in value
    back = codec.loads(value)
    assert (back.token, back.username, back.unit, back.csrf) == (
        "header.payload.sig",
        "li",
        "school:4101020001",
        session.csrf,
    )
    tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    assert codec.loads(tampered).token is None
    assert SessionCodec("another-key-of-thirty-two-characters!").loads(value).token is None


def test_refusals_are_worded_in_chinese() -> None:
    english = ApiError(422, "missing_required_proof", "a transfer into 河南省 (41) needs proof")
    assert refusal(english) == "跨省转入须上传本省要求的证明材料。"
    chinese = ApiError(409, "transfer_suspended", "学生处于休学状态，不能办理转学", "豫 第十一条")
    assert refusal(chinese) == "学生处于休学状态，不能办理转学（豫 第十一条）"
    assert refusal(ApiError(404, None, "school 1 is not served here")).startswith("未找到")
    assert refusal(ApiError(500, "boom", "")) == "操作未成功（代码：boom）。"


def test_dates_and_units() -> None:
    assert zh_date(date(2026, 9, 1)) == "2026年9月1日"
    assert zh_date("2026-09-01") == "2026年9月1日"
    assert zh_datetime(datetime(2026, 9, 6, 16, 5, tzinfo=UTC)) == "2026年9月7日 00:05"
    assert unit_of_code("4101020001").tier is Tier.SCHOOL  # type: ignore[union-attr]
    assert unit_of_code("410102").tier is Tier.COUNTY  # type: ignore[union-attr]
    assert unit_of_code(" 5134 ") == UnitRef(tier=Tier.CITY, code="5134")  # 州（市）
    assert unit_of_code("51").tier is Tier.PROVINCE  # type: ignore[union-attr]
    assert unit_of_code("cn").tier is Tier.NATIONAL  # type: ignore[union-attr]
    assert unit_of_code("41010") is None and unit_of_code("41x102") is None
    assert unit_of_code("51x4") is None


@pytest.fixture
def client() -> TestClient:
    return TestClient(build_app(ConsoleSettings(console_secret="k" * 40)))


def test_pages_carry_the_security_headers_and_posts_need_the_csrf_token(
    client: TestClient,
) -> None:
    with client:
        page = client.get("/login")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        refused = client.post("/login", data={"unit_code": "CN", "username": "a"})
        assert refused.status_code == 403
        assert "页面已过期" in refused.text
        assert client.get("/students", follow_redirects=False).headers["location"] == (
            "/login?next=/students"
        )


def test_production_refuses_a_missing_or_placeholder_secret() -> None:
    with pytest.raises(ValueError, match="XUEJI_CONSOLE_SECRET"):
        ConsoleSettings(env="production", console_secure_cookie=True)
    with pytest.raises(ValueError, match="XUEJI_CONSOLE_SECRET"):
        ConsoleSettings(
            env="production",
            console_secure_cookie=True,
            console_secret="CHANGE-ME-TO-32-RANDOM-BYTES-OR-MORE",
        )


def test_a_throttled_login_says_when_to_try_again() -> None:
    throttled = ApiError(429, "login_throttled", "too many failed logins", retry_after=8)
    assert refusal(throttled) == "登录失败次数过多，请稍后再试。（约 8 秒后可再试）"


def test_an_api_refusal_is_read_from_the_one_error_model() -> None:
    """decision 0028: ``errors`` names the fields; ``message_zh`` words a code the console's
    own catalogue lacks."""
    invalid = httpx.Response(
        422,
        json={
            "code": "validation_failed",
            "message": "body.id_number: check character should be 7",
            "message_zh": "请求内容不符合要求，请检查标出的字段。",
            "rule": None,
            "article": None,
            "errors": [{"loc": ["body", "id_number"], "msg": "check", "type": "id_check"}],
        },
    )
    error = error_of(invalid)
    assert (error.status, error.rule) == (422, "id_check")
    assert [(f.field, f.rule) for f in error.fields] == [("id_number", "id_check")]
    unknown_to_console = httpx.Response(
        409,
        json={
            "code": "discipline_already_lifted",
            "message": "the discipline was already lifted",
            "message_zh": "该处分已解除。",
            "rule": "discipline_already_lifted",
            "article": None,
            "errors": [],
        },
    )
    assert refusal(error_of(unknown_to_console)) == "该处分已解除。"


def test_the_units_below_are_those_whose_accounts_the_unit_manages() -> None:
    federation = load_federation(Path("config/federation.toml"))
    county = UnitRef(tier=Tier.COUNTY, code="410102")
    schools = units_below(federation, county)
    assert schools and all(u.tier is Tier.SCHOOL and u.code.startswith("410102") for u in schools)
    henan = units_below(federation, UnitRef(tier=Tier.PROVINCE, code="41"))
    assert county in henan and all(u.code.startswith("41") for u in henan)
    assert not any(u.tier is Tier.SCHOOL and u in henan for u in schools)  # not two levels
    national = units_below(federation, UnitRef(tier=Tier.NATIONAL, code="CN"))
    assert {u.tier for u in national} == {Tier.PROVINCE}
    assert units_below(federation, UnitRef(tier=Tier.SCHOOL, code="4101020001")) == []


def test_an_accounts_state_tells_sealed_for_disuse_from_sealed_by_the_level_above() -> None:
    now = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)
    fresh = {"sealed_at": None, "password_expires_on": "2026-12-01", "throttled_until": None}
    assert state_of(fresh, now) == "active"
    dormant = fresh | {"sealed_at": "2026-09-01T00:00:00Z", "sealed_reason": "unused for 183 days"}
    assert state_of(dormant, now) == "sealed_dormant"
    sealed = dormant | {"sealed_reason": "sealed by zhang: 调离"}
    assert state_of(sealed, now) == "sealed"
    assert state_of(fresh | {"throttled_until": "2026-09-07T03:00:00+00:00"}, now) == "locked"
    assert state_of(fresh | {"password_expires_on": "2026-09-07"}, now) == "password_change"


def test_a_proof_is_shown_in_the_page_only_when_its_bytes_are_an_image_or_a_pdf() -> None:
    """A proof viewed in the task page is served inline under a CSP that runs nothing and
    lets only the console's own pages frame it; a file that only claims to be a PDF (an HTML
    page named .pdf) is downloaded, never shown from the console's origin."""
    attachment = {"content-disposition": "attachment; filename*=UTF-8''a.pdf"}

    def served(content: bytes, media_type: str, view: bool) -> Response:
        answer = httpx.Response(
            200, content=content, headers={**attachment, "content-type": media_type}
        )
        return _proof_response(answer, view)

    pdf = served(b"%PDF-1.4 proof", "application/pdf", view=True)
    assert pdf.media_type == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert pdf.headers["content-security-policy"] == PROOF_CSP
    assert "script-src" not in PROOF_CSP and "frame-ancestors 'self'" in PROOF_CSP
    png = served(b"\x89PNG\r\n\x1a\nrest", "application/octet-stream", view=True)
    assert png.media_type == "image/png" and png.headers["x-frame-options"] == "SAMEORIGIN"
    disguised = served(b"<html><script>alert(1)</script>", "application/pdf", view=True)
    assert disguised.headers["content-disposition"].startswith("attachment")
    assert "content-security-policy" not in disguised.headers  # the console's own CSP applies
    downloaded = served(b"%PDF-1.4 proof", "application/pdf", view=False)
    assert downloaded.headers["content-disposition"].startswith("attachment")


def test_a_linked_proof_is_read_where_the_task_says_the_school_keeps_it() -> None:
    task = {
        "school_code": "4101020001",
        "transfer": None,
        "status_change": {
            "proofs": [
                {
                    "index": 0,
                    "kind": "hospital_certificate",
                    "url": "http://school-41:8001/api/v1/status-changes/c/proofs/0",
                }
            ]
        },
        "duplicate": None,
    }
    assert _linked(task, 0) == (
        UnitRef(tier=Tier.SCHOOL, code="4101020001"),
        "/api/v1/status-changes/c/proofs/0",
    )
    assert _linked(task, 1) is None
    transfer = {
        "school_code": "5134010001",
        "transfer": {
            "to_school": "5101040001",
            "proofs": [{"index": 2, "kind": "hukou_proof", "url": "/api/v1/transfers/t/proofs/2"}],
        },
    }
    assert _linked(transfer, 2) == (
        UnitRef(tier=Tier.SCHOOL, code="5101040001"),
        "/api/v1/transfers/t/proofs/2",
    )


def _task_page(client: TestClient, **task: object) -> str:
    """The authority's task page rendered from a desk answer (no API involved)."""
    base: dict[str, object] = {
        "task_id": "8c0e6a52-8f5e-4d43-9a3e-5d0f1f3f0001",
        "kind": "status_change",
        "status": "open",
        "school_code": "4101020001",
        "school_name": "郑州市中原区第一小学",
        "opened_at": "2026-09-07T01:00:00Z",
        "due_on": None,
        "overdue": False,
        "decided_by": None,
        "decided_at": None,
        "items": [],
        "proofs": [],
        "transfer": None,
        "progression": None,
        "status_change": None,
        "key_field_change": None,
        "graduation": None,
        "verification": None,
        "duplicate": None,
        "export": None,
        "filing": None,
    }
    page = {
        "request": SimpleNamespace(url=SimpleNamespace(path="/authority/tasks/x"), query_params={}),
        "session": SimpleNamespace(
            logged_in=True, tier="county", unit="county:410102", username="li"
        ),
        "csrf": "c",
        "flash": None,
        "task": {**base, **task},
        "student": {
            "name": "张小明",
            "gender": "male",
            "birth_date": "2019-03-07",
            "class_name": "一（2）班",
        },
        "reasons": reject_reasons(str(task.get("kind", "status_change"))),
        "error": None,
    }
    with client:
        console = client.app.state.console  # type: ignore[attr-defined]
        return str(console.templates.get_template("authority_task.html").render(page))


def test_a_status_change_task_shows_the_student_its_facts_and_its_proofs(
    client: TestClient,
) -> None:
    html = _task_page(
        client,
        status_change={
            "student_number": "G410102201903070011",
            "grade": 2,
            "facts": {"change": "suspend", "effective_on": "2026-09-10", "ground": "illness"},
            "request_reason": "因病住院治疗",
            "findings": [],
            "proofs": [{"index": 0, "kind": "hospital_certificate", "url": "http://h/api/v1/x"}],
        },
    )
    assert "张小明" in html and "G410102201903070011" in html and "休学（因病）" in html
    base = "/authority/tasks/8c0e6a52-8f5e-4d43-9a3e-5d0f1f3f0001"
    # the school's proof, framed once the officer asks for it, and downloadable
    viewer = f'hx-get="/authority/proof-viewer?src={base}/linked-proofs/0&amp;title='
    assert viewer in html and f'<a href="{base}/linked-proofs/0" download>' in html
    assert '<option value="证明材料不齐全">' in html  # the kind's common reasons


def test_term_check_findings_say_what_resolves_each(client: TestClient) -> None:
    html = _task_page(
        client,
        kind="verification_findings",
        verification={
            "campaign_id": "8c0e6a52-8f5e-4d43-9a3e-5d0f1f3f0002",
            "term": "2026-autumn",
            "attending": 310,
            "registered": 312,
            "findings": [{"student_number": "G1", "kind": "ghost", "detail": "不在校"}],
        },
    )
    assert "2026年秋季学期" in html and "在籍不在校" in html and "办理转学或学籍变动" in html


def test_an_intervention_says_on_whose_behalf(client: TestClient) -> None:
    transfer = {
        "transfer_id": "8c0e6a52-8f5e-4d43-9a3e-5d0f1f3f0003",
        "step_id": "8c0e6a52-8f5e-4d43-9a3e-5d0f1f3f0004",
        "role": "sending_school",
        "student_number": "G1",
        "student": {"name": "李四", "gender": "male", "grade": 1},
        "from_school": "4101020001",
        "to_school": "5101040001",
        "reason": "随父母迁居",
        "proofs": [],
        "late_party": "school:4101020001",
    }
    late = {"kind": "transfer_intervention", "due_on": "2026-09-20", "transfer": transfer}
    opened = _task_page(client, **late)
    assert "强制干预（豫 第十一条（三））" in opened and "代为同意" in opened
    decided = _task_page(
        client,
        **late,
        status="approved",
        decided_by="officer.li",
        decided_at="2026-09-22T02:00:00Z",
    )
    assert "已由 officer.li 于 2026年9月22日 10:00 代 " in decided
    assert "办理（强制干预）" in decided and "代为同意" not in decided


def test_the_header_names_every_level_in_chinese(client: TestClient) -> None:
    """教育部, not "CN": the header (and every page's unit_name) names the unit at each level."""
    names = {
        "national:CN": "教育部",
        "province:41": "河南省",
        "city:5134": "凉山彝族自治州",
        "county:410102": "郑州市中原区",
        "school:4101020001": "郑州市中原区第一实验小学",
    }
    with client:
        console = client.app.state.console  # type: ignore[attr-defined]
        for unit, name in names.items():
            tier = unit.partition(":")[0]
            html = console.templates.get_template("error.html").render(
                request=SimpleNamespace(url=SimpleNamespace(path="/"), query_params={}),
                session=SimpleNamespace(
                    logged_in=True, tier=tier, unit=unit, username="li", roles=("approver",)
                ),
                csrf="c",
                flash=None,
                status=404,
                message="未找到",
                rule=None,
            )
            assert f"<span>{name} · li</span>" in html, unit
            assert console.directory.unit_name(UnitRef.parse(unit)) == name
