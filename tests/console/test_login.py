"""Logging in and out, the first-login password change, locked and sealed accounts, an
expired session, CSRF, the Content-Security-Policy, and another unit's objects."""

from __future__ import annotations

import time
import uuid

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from services.console.session import COOKIE, Session, SessionCodec
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.console.accounts import create_account, make_dormant
from tests.console.support import (
    context,
    describe,
    log_in,
    log_in_as,
    screenshot,
    serious_violations,
)
from tests.integration.registration_support import student

SCHOOL = "4101020001"
NEIGHBOUR = "4101020002"  # same county, same instance: its objects must stay invisible


def test_login_logout_and_wrong_password(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser) as ctx:
        page = ctx.new_page()
        page.goto(console.url + "/")
        expect(page).to_have_url(f"{console.url}/login?next=/")
        screenshot(page, "login")
        username, password = federation.dev_account("school", SCHOOL)

        log_in(page, console, SCHOOL, username, password + "x")
        expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")

        log_in(page, console, SCHOOL, username, password)
        expect(page.get_by_role("heading", level=1)).to_have_text("待办事项")
        expect(page.get_by_text("郑州市中原区第一实验小学")).to_be_visible()
        cookie = next(c for c in ctx.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        page.get_by_role("button", name="退出").click()
        expect(page).to_have_url(console.url + "/login")
        expect(page.get_by_role("status")).to_have_text("您已安全退出。")
        page.goto(console.url + "/students")
        expect(page).to_have_url(f"{console.url}/login?next=/students")


def test_first_login_changes_the_password(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    username = f"li.{uuid.uuid4().hex[:6]}"
    one_time = create_account(federation, f"school:{SCHOOL}", username)
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in(page, console, SCHOOL, username, one_time)
        expect(page.get_by_role("heading", level=1)).to_have_text("修改密码")
        expect(page.get_by_role("status")).to_contain_text("请先修改密码")
        screenshot(page, "first-login-password")
        page.get_by_label("当前密码").fill(one_time)
        page.get_by_label("新密码", exact=True).fill("short")
        page.get_by_label("再次输入新密码").fill("short")
        page.get_by_role("button", name="修改密码并登录").click()
        expect(page.get_by_role("alert")).to_contain_text("至少 12 位")

        page.get_by_label("当前密码").fill(one_time)
        page.get_by_label("新密码", exact=True).fill("春风化雨润物无声2026")
        page.get_by_label("再次输入新密码").fill("春风化雨润物无声2026")
        page.get_by_role("button", name="修改密码并登录").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("待办事项")
        expect(page.get_by_role("status")).to_have_text("密码已修改。")


def test_throttled_and_sealed_logins_are_explained(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    base = "http://{0.host}:{0.port}".format(federation.instance_for_unit(Tier.SCHOOL, SCHOOL))
    guessed = f"wang.{uuid.uuid4().hex[:6]}"
    create_account(federation, f"school:{SCHOOL}", guessed)
    # the sealed account first: the browser must try the guessed one within the 8 s wait
    sealed = f"zhao.{uuid.uuid4().hex[:6]}"
    sealed_password = create_account(federation, f"school:{SCHOOL}", sealed)
    make_dormant(federation, f"school:{SCHOOL}", sealed)
    failures = 0
    while failures < 8:  # after 5 failures each attempt waits 1 s, 2 s, 4 s … (decision 0026)
        answer = httpx.post(
            base + "/api/v1/auth/token", data={"username": guessed, "password": "wrong"}
        )
        if answer.status_code == 429:
            time.sleep(int(answer.headers["retry-after"]))
            continue
        assert answer.status_code == 401, answer.text
        failures += 1
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in(page, console, SCHOOL, guessed, "wrong")  # within the 8 s wait
        expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多")
        expect(page.get_by_role("alert")).to_contain_text("秒后可再试")
        log_in(page, console, SCHOOL, sealed, sealed_password)
        expect(page.get_by_role("alert")).to_contain_text("封存")


def test_an_expired_session_returns_to_the_login_page(
    browser: Browser, console: LocalConsole, federation: LocalFederation, codec: SessionCodec
) -> None:
    now = time.time()
    with context(browser) as ctx:
        page = ctx.new_page()
        # the token's own expiry has passed
        old = Session(token="x.y.z", username="a", unit=f"school:{SCHOOL}", roles=["registrar"])
        old.token_expires, old.last_seen = now - 1, now - 600
        ctx.add_cookies([{"name": COOKIE, "value": codec.dumps(old), "url": console.url}])
        page.goto(console.url + "/students")
        expect(page).to_have_url(f"{console.url}/login?next=/students")
        expect(page.get_by_role("status")).to_have_text("登录已过期，请重新登录。")
        # the API refuses the token (expired or revoked there): the same page
        refused = Session(token="x.y.z", username="a", unit=f"school:{SCHOOL}", roles=["registrar"])
        refused.token_expires, refused.last_seen = now + 600, now
        ctx.add_cookies([{"name": COOKIE, "value": codec.dumps(refused), "url": console.url}])
        page.goto(console.url + "/students")
        expect(page).to_have_url(console.url + "/login")
        expect(page.get_by_role("status")).to_have_text("登录已过期，请重新登录。")


def test_csrf_and_content_security_policy(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser) as ctx:
        page = ctx.new_page()
        csp_errors: list[str] = []
        page.on(
            "console", lambda m: csp_errors.append(m.text) if "Content Security" in m.text else None
        )
        log_in_as(page, console, federation, "school", SCHOOL)
        response = page.goto(console.url + "/students/new")
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        # every script comes from the console itself; none is inline
        scripts = page.locator("script").evaluate_all("s => s.map(e => [e.src, e.text.trim()])")
        assert scripts and all(
            src.startswith(console.url + "/static/") and not text for src, text in scripts
        )
        assert page.evaluate("typeof htmx") == "object"  # loaded under the policy

        body = {
            "name": "跨站",
            "gender": "male",
            "birth_date": "2019-01-01",
            "grade": "1",
            "enrolled_on": "2026-09-01",
        }
        missing = page.request.post(console.url + "/students/new", form=body)
        assert missing.status == 403
        assert "页面已过期或请求来源无法确认" in missing.text()
        wrong = page.request.post(
            console.url + "/students/new", form=body | {"csrf_token": "forged"}
        )
        assert wrong.status == 403
        logout = page.request.post(console.url + "/logout", form={})
        assert logout.status == 403
        page.goto(console.url + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("待办事项")  # still logged in
        assert csp_errors == []


def test_another_units_objects_are_not_found(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    instance = federation.instance_for_unit(Tier.SCHOOL, NEIGHBOUR)
    answer = httpx.post(
        f"http://{instance.host}:{instance.port}/api/v1/schools/{NEIGHBOUR}/students",
        json=student(NEIGHBOUR, grade=7),
        headers=Minter.for_federation(federation.keys_dir, federation.federation).headers(
            f"school:{NEIGHBOUR}"
        ),
    )
    assert answer.status_code == 202, answer.text
    theirs = answer.json()["registration_id"]
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        for path in (f"/registrations/{theirs}", f"/admissions/{uuid.uuid4()}"):
            response = page.goto(console.url + path)
            assert response is not None and response.status == 404
            expect(page.get_by_role("heading", level=1)).to_have_text("未找到")
            expect(page.get_by_role("alert")).to_contain_text("不属于您的单位")
        screenshot(page, "not-found")


def test_login_and_home_pages_are_accessible(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        page.goto(console.url + "/login")
        violations = serious_violations(page)
        assert violations == [], describe(violations)
        log_in_as(page, console, federation, "school", SCHOOL)
        for path in ("/", "/students", "/students/new", "/admissions/new", "/password"):
            page.goto(console.url + path)
            violations = serious_violations(page)
            assert violations == [], f"{path}: {describe(violations)}"
