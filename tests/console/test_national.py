"""The national officer in the console: a suspect duplicate resolved side by side with the
registry entry it resembles, a registry look-up, and the August 10 promotion previewed, then
confirmed, then reported (LS 3(一)).

The promotion moves every enrolled student of the package's federation up a grade: the tests
after this module register their own students, as every console test does."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.officers import register, settled
from tests.console.support import (
    context,
    describe,
    log_in_as,
    screenshot,
    serious_violations,
)
from tests.integration.registration_support import student

ORIGINAL_SCHOOL = "3301020001"  # Zhejiang approves what passes every check at once
TWIN_SCHOOL = "3301060001"


def test_a_national_officer_resolves_a_suspect_duplicate_side_by_side(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    original = student(ORIGINAL_SCHOOL)
    first = register(federation, ORIGINAL_SCHOOL, original)
    number = settled(federation, ORIGINAL_SCHOOL, first, "approved")["student_number"]
    twin = student(  # same name, gender and birth date; another valid resident ID
        TWIN_SCHOOL, name=original["name"], birth=date.fromisoformat(original["birth_date"])
    )
    held = register(federation, TWIN_SCHOOL, twin)
    settled(federation, TWIN_SCHOOL, held, "held_for_review")

    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "national", "CN")
        queue = page.get_by_role("table")
        expect(queue).to_contain_text(original["name"])
        row = page.get_by_role("row").filter(has_text=number)
        row.get_by_role("link", name=original["name"]).click()

        expect(page.get_by_role("heading", level=1)).to_have_text(f"查重复核 · {original['name']}")
        compare = page.locator("table.compare")
        expect(compare).to_contain_text(number)
        for label in ("姓名", "性别", "出生日期"):  # what the suspect rule matched
            expect(compare.get_by_role("row").filter(has_text=label).first).to_have_class("same")
        documents = compare.get_by_role("row").filter(has_text="证件号码")
        expect(documents).not_to_have_class("same")
        expect(documents).to_contain_text(original["id_number"])
        expect(documents).to_contain_text(twin["id_number"])
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "national-review-side-by-side")

        page.get_by_role("button", name="不同人，发放学籍号").click()  # no reason yet
        expect(page.get_by_label("复核意见（必填）")).to_have_js_property("validity.valid", False)
        page.get_by_label("复核意见（必填）").fill("户籍证明显示为两名儿童，同名同生日")
        page.get_by_role("button", name="不同人，发放学籍号").click()
        expect(page.get_by_role("status")).to_contain_text("已发放学籍号")
        expect(page.locator("main")).to_contain_text("户籍证明显示为两名儿童")
        issued = settled(federation, TWIN_SCHOOL, held, "approved")
        assert issued["student_number"] == "G" + twin["id_number"]

        # the registry look-up: the number just issued, then one nobody has
        page.get_by_role("link", name="学籍查询").click()
        page.get_by_label("学籍号", exact=True).fill(issued["student_number"])
        page.get_by_role("button", name="查询").click()
        facts = page.get_by_label("学籍基础信息")
        expect(facts).to_contain_text(twin["name"])
        expect(facts).to_contain_text("杭州")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "national-registry-look-up")
        page.get_by_label("学籍号", exact=True).fill("G" + "1" * 18)
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_role("alert")).to_contain_text("没有使用该学籍号的学籍")


def test_the_promotion_is_previewed_then_confirmed_then_reported(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    enrolled = register(federation, ORIGINAL_SCHOOL, student(ORIGINAL_SCHOOL))
    settled(federation, ORIGINAL_SCHOOL, enrolled, "approved")  # at least one to promote
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "national", "CN")
        page.goto(console.url + "/national/promotion")
        page.get_by_label("学年（9 月开始的年份）").fill("2026")
        page.get_by_role("button", name="预览").click()
        count = page.locator("#promote-count")
        expect(count).to_have_text(re.compile(r"^[1-9][0-9]*$"))
        previewed = count.inner_text()
        expect(page.get_by_role("table").first).to_contain_text("一年级")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "national-promotion-preview")

        confirm = page.get_by_role("button", name="确认执行升级")
        confirm.click()  # the box is not ticked: the browser keeps the form
        expect(page.locator("#promote-count")).to_have_text(previewed)
        page.get_by_label(re.compile("确认执行 2026 学年升级")).check()
        confirm.click()

        expect(page.get_by_role("heading", level=1)).to_have_text("2026 学年升级报告")
        expect(page.get_by_role("status")).to_contain_text("升级已完成")
        expect(page.locator("#promoted")).to_have_text(previewed)
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "national-promotion-report")

        # the year ran: a second preview leads to the report, never to a second run
        page.goto(console.url + "/national/promotion?school_year=2026")
        expect(page.get_by_role("heading", level=2)).to_contain_text("学年的升级已于")
        expect(page.get_by_role("button", name="确认执行升级")).to_have_count(0)
