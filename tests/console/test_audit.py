"""The audit viewer (谁使用、谁负责, ZJ art. 30): a county auditor filters its trail by person,
object and date, with the audit chain's verification status (decisions 0010, 0027)."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.accounts import create_account, make_dormant
from tests.console.officers import client
from tests.console.support import (
    context,
    describe,
    log_in_as,
    screenshot,
    serious_violations,
)

COUNTY = "510104"  # 成都市: the province-51 officer reopens one of its accounts


def test_an_auditor_filters_the_trail_by_person_object_and_date(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    # the province reopens a county account: an entry about the county, by the province
    username = f"zhou.{uuid.uuid4().hex[:6]}"
    create_account(federation, f"county:{COUNTY}", username)
    make_dormant(federation, f"county:{COUNTY}", username)
    with client(federation, "province", "51", at=("county", COUNTY)) as province:
        opened = province.post(f"/api/v1/auth/accounts/{username}/unseal")
        assert opened.status_code == 200, opened.text
    province_officer = federation.dev_account("province", "51")[0]
    county_officer = federation.dev_account("county", COUNTY)[0]

    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        page.get_by_role("link", name="审计记录").click()
        chain = page.locator("#chain")
        for _ in range(20):  # the first walk after a start runs in the background
            if "正在校验" not in chain.inner_text():
                break
            page.reload()
        expect(chain).to_contain_text("完整")

        page.get_by_label("对象（学籍号、账号等）").fill(username)
        page.get_by_role("button", name="筛选").click()
        rows = page.locator("#entries tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(province_officer)
        expect(rows).to_contain_text("启用")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "audit-viewer")

        page.get_by_label("对象（学籍号、账号等）").fill("")
        page.get_by_label("操作人（用户名）").fill(county_officer)
        page.get_by_role("button", name="筛选").click()
        expect(rows.first).to_contain_text(county_officer)  # its own home page's task list
        expect(page.locator("#entries")).not_to_contain_text(province_officer)

        page.get_by_label("起始日期").fill("2099-01-01")
        page.get_by_role("button", name="筛选").click()
        expect(page.locator("main")).to_contain_text("没有符合条件的审计记录")
