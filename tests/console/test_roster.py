"""The roster: search by name, student number or ID number; filters; pages; the back button."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.console.conftest import ROSTER_SCHOOL
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_admission import intake

SCHOOL = str(ROSTER_SCHOOL["code"])  # Zhejiang: approved by the system once every check passes


def admitted(federation: LocalFederation, data: bytes, school: str = SCHOOL) -> None:
    """Admit a file through ``school``'s API and wait until every registration is approved."""
    instance = federation.instance_for_unit(Tier.SCHOOL, school)
    base = f"http://{instance.host}:{instance.port}"
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    headers = minter.headers(f"school:{school}")
    job = httpx.post(
        f"{base}/api/v1/schools/{school}/admission-jobs",
        files={"file": ("roster.csv", data, "text/csv")},
        headers=headers,
        timeout=60,
    )
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 90
    while True:
        state = httpx.get(base + job.json()["links"]["self"], headers=headers).json()
        if state["registrations"]["approved"] == state["rows"]["accepted"]:
            return
        assert time.monotonic() < deadline, state
        time.sleep(0.3)


def test_search_filter_and_page(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, names = intake(60, {}, school=SCHOOL, second_grade=range(1, 11))
    admitted(federation, data)
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="学籍名册").click()
        expect(page.get_by_role("status")).to_have_text("共 60 名学生，第 1 / 2 页")
        expect(page.locator("tbody tr")).to_have_count(50)
        screenshot(page, "roster")
        violations = serious_violations(page)
        assert violations == [], f"roster: {describe(violations)}"
        page.get_by_role("link", name="下一页").click()
        expect(page.get_by_role("status")).to_have_text("共 60 名学生，第 2 / 2 页")
        expect(page.locator("tbody tr")).to_have_count(10)
        page.go_back()
        expect(page.get_by_role("status")).to_have_text("共 60 名学生，第 1 / 2 页")

        page.get_by_label("年级").select_option("2")
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_role("status")).to_have_text("共 10 名学生")
        expect(page.locator("tbody tr").filter(has_text="二年级")).to_have_count(10)

        page.get_by_label("年级").select_option("")
        page.get_by_label("姓名 / 学籍号 / 身份证号").fill(names[41])
        page.get_by_role("button", name="查询").click()
        row = page.locator("tbody tr").filter(has_text=names[41]).first
        expect(row).to_be_visible()
        number = row.locator("td").first.inner_text()
        assert number.startswith("G")

        for query in (number, number[1:]):  # the student number, then the ID number inside it
            page.get_by_label("姓名 / 学籍号 / 身份证号").fill(query)
            page.get_by_role("button", name="查询").click()
            expect(page.get_by_role("status")).to_have_text("共 1 名学生")
            expect(page.locator("tbody tr")).to_contain_text(names[41])

        page.get_by_role("link", name=number).click()  # the student page
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{names[41]} · {number}")
        expect(page.locator(".timeline")).to_contain_text("学籍建立")
        expect(page.get_by_text("居民身份证")).to_be_visible()
        screenshot(page, "student")
        violations = serious_violations(page)
        assert violations == [], f"student page: {describe(violations)}"
        page.go_back()

        page.get_by_label("姓名 / 学籍号 / 身份证号").fill("查无此人")
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_text("没有符合条件的学生。")).to_be_visible()
        page.get_by_label("姓名 / 学籍号 / 身份证号").fill("")
        page.get_by_label("学籍状态").select_option("enrolled")
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_role("status")).to_have_text("共 60 名学生，第 1 / 2 页")
