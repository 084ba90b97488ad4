"""Accounts in the officer's console (N2013 art. 23; N2025 art. 24): a province officer
unseals a county account sealed for disuse; a county officer opens a registrar's account at a
school and reads its one-time password once; another county's accounts are not found."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.accounts import create_account, make_dormant
from tests.console.officers import base_url
from tests.console.support import (
    context,
    describe,
    log_in_as,
    screenshot,
    serious_violations,
)

COUNTY = "410102"
OTHER_COUNTY = "410105"
SCHOOL = "4101020001"


def login_rule(
    federation: LocalFederation, tier: str, code: str, username: str, password: str
) -> str:
    answer = httpx.post(
        base_url(federation, tier, code) + "/api/v1/auth/token",
        data={"username": username, "password": password},
    )
    return str(answer.json().get("rule") or answer.status_code)


def test_a_province_officer_unseals_a_county_account_sealed_for_disuse(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    username = f"wang.{uuid.uuid4().hex[:6]}"
    password = create_account(federation, f"county:{COUNTY}", username)
    make_dormant(federation, f"county:{COUNTY}", username)
    assert login_rule(federation, "county", COUNTY, username, password) == "account_sealed"

    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "province", "41")
        page.get_by_role("link", name="账号管理").click()
        page.get_by_role("navigation", name="单位").get_by_role(
            "link", name="郑州市中原区", exact=True
        ).click()
        sealed = page.locator("#blocked").get_by_role("row").filter(has_text=username)
        expect(sealed).to_contain_text("已封存（六个月未使用）")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "accounts-sealed")

        sealed.get_by_role("button", name="解封启用").click()
        expect(page.get_by_role("status")).to_contain_text(f"账号 {username} 已启用")
        expect(page.locator("#blocked").get_by_role("row").filter(has_text=username)).to_have_count(
            0
        )
        expect(page.locator("#all-accounts")).to_contain_text(username)
    # reopened: the next login must set a new password first
    assert login_rule(federation, "county", COUNTY, username, password) == "password_expired"


def test_a_county_officer_opens_a_registrars_account_and_sees_its_password_once(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    username = f"li.{uuid.uuid4().hex[:6]}"
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        page.goto(console.url + f"/accounts?unit=school:{SCHOOL}")
        page.get_by_role("link", name="新建账号").click()
        page.get_by_label("用户名").fill(username)
        page.get_by_label("姓名").fill("李老师")
        page.get_by_role("button", name="创建账号").click()  # a registrar, not trained
        expect(page.get_by_role("alert")).to_contain_text("须先经培训")
        page.get_by_label("培训日期（学籍管理员必填）").fill("2026-08-20")
        page.get_by_role("button", name="创建账号").click()

        expect(page.get_by_role("heading", level=1)).to_have_text(f"账号已创建 · {username}")
        password = page.locator("#one-time-password").inner_text().strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}", password), password
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "accounts-one-time-password")

        # never again: not on the list, not on the form, not after a reload
        page.get_by_role("link", name="返回账号列表").click()
        listed = page.locator("#all-accounts").get_by_role("row").filter(has_text=username)
        expect(listed).to_contain_text("2026年8月20日")
        assert password not in page.content()
        page.goto(console.url + f"/accounts/new?unit=school:{SCHOOL}")
        assert password not in page.content()
    assert login_rule(federation, "school", SCHOOL, username, password) == "password_expired"


def test_another_countys_accounts_and_audit_trail_are_not_found(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", OTHER_COUNTY)
        for path in (f"/accounts?unit=county:{COUNTY}", f"/audit?unit=county:{COUNTY}"):
            answer = page.goto(console.url + path)
            assert answer is not None and answer.status == 404, path
            expect(page.get_by_role("main")).to_contain_text("未找到")
