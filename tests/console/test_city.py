"""A city / prefecture's officer in the console (decision 0034): logging in with the 4-digit
code of 凉山彝族自治州 (city:5134, served by the province-51 instance), its desk on the home
page, and reviewing what a Yi-track school filed with it (LS 6: 起始年级学生的学籍…报州教育局
备案)."""

from __future__ import annotations

import random
from datetime import date

from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.conftest import YI_PRIMARY
from tests.console.support import (
    context,
    describe,
    log_in_as,
    screenshot,
    serious_violations,
)
from tests.ids import fresh_resident_id

SCHOOL = str(YI_PRIMARY["code"])  # a Yi-track primary school of Xichang
SCHOOL_NAME = str(YI_PRIMARY["name"])
COUNTY = "513401"  # 凉山州西昌市: the school's registry authority
CITY = "5134"  # 凉山彝族自治州: the school files its first-graders' registrations there
# enrolled last school year: the filing's day (September 30 of that year) has passed
ENROLLED = date(date.today().year - 1, 9, 1)
DUE = f"{ENROLLED.year}年9月30日"


def test_the_prefecture_reviews_a_yi_track_schools_first_grade_filing(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    id_number = fresh_resident_id(random.Random(), COUNTY, date(ENROLLED.year - 7, 2, 11), "female")
    with (
        context(browser) as registrar_ctx,
        context(browser) as county_ctx,
        context(browser, bypass_csp=True) as city_ctx,  # axe is injected as a script tag
    ):
        registrar = registrar_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.goto(console.url + "/students/new")
        registrar.get_by_label("姓名", exact=True).fill("阿苏惹古")
        registrar.get_by_label("证件号码").fill(id_number)
        expect(registrar.locator("#id-check")).to_contain_text("性别女")
        registrar.get_by_label("民族").fill("彝族")
        registrar.get_by_label("入学日期").fill(ENROLLED.isoformat())
        registrar.get_by_label("监护人姓名").fill("阿苏木呷")
        registrar.get_by_label("与学生关系").fill("父亲")
        registrar.get_by_label("监护人电话").fill("13800000000")
        registrar.get_by_label("户籍地行政区划代码").fill(COUNTY)
        registrar.get_by_role("button", name="提交审核").click()
        expect(registrar.locator("#registration-status")).to_contain_text("审核中")
        registration_url = registrar.url

        county = county_ctx.new_page()  # the county registers the child (N2013 art. 3)
        log_in_as(county, console, federation, "county", COUNTY)
        open_task(county, console.url, "学籍建立", "阿苏惹古")
        county.get_by_role("button", name="同意").click()
        expect(county.get_by_role("status")).to_have_text("已办理。")
        registrar.goto(registration_url)
        number = "G" + id_number
        expect(registrar.locator("#student-number")).to_have_text(number, timeout=45_000)

        city = city_ctx.new_page()
        log_in_as(city, console, federation, "city", CITY)  # the 4-digit code at login
        expect(city.get_by_text("凉山彝族自治州（州（市）教育行政部门）")).to_be_visible()
        overview(city, console.url)
        filing = open_task(city, console.url, "备案审核", number)
        facts = city.locator("dl.facts")
        expect(facts).to_contain_text("一类模式起始年级学籍备案")
        expect(facts).to_contain_text(SCHOOL_NAME)
        expect(facts).to_contain_text("一年级")
        expect(facts).to_contain_text(DUE)  # filed by September 30 (LS 6)
        violations = serious_violations(city)
        assert violations == [], describe(violations)

        # sent back without a reason: refused, the filing stays open
        city.get_by_role("button", name="拒绝").click()
        expect(city.get_by_role("alert")).to_have_text("请填写拒绝理由。")
        city.get_by_label("意见（拒绝时必填）").fill("已审核备案")
        city.get_by_role("button", name="同意").click()
        expect(city.get_by_role("status")).to_have_text("已办理。")
        done = city.get_by_role("row").filter(has_text=SCHOOL_NAME).filter(has_text="备案审核")
        expect(done).to_have_count(0)  # off the desk's open list

        city.goto(filing)  # closed: who reviewed it, and no form any more
        expect(city.get_by_text("已由")).to_contain_text("办理")
        expect(city.get_by_role("button", name="同意")).to_have_count(0)
        expect(city.locator(".badge-approved")).to_be_visible()


def overview(page: Page, base: str) -> None:
    """The city officer's home page once the filing is there: its due date, marked overdue
    (the day has passed), accessible; the screenshot of the page."""
    for _ in range(90):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text=SCHOOL_NAME).filter(has_text="备案审核")
        if rows.count():
            expect(rows.first).to_contain_text(DUE)
            expect(rows.first).to_contain_text("已逾期")
            expect(page.get_by_role("alert")).to_contain_text("已逾期")
            violations = serious_violations(page)
            assert violations == [], describe(violations)
            screenshot(page, "city-home")
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"no filing of {SCHOOL_NAME} reached the prefecture")


def open_task(page: Page, base: str, kind: str, cell: str) -> str:
    """From the officer's home page, open the school's open task of ``kind`` showing ``cell``
    (a task reaches the desk a moment after what opens it); its URL."""
    for _ in range(90):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text=SCHOOL_NAME).filter(has_text=kind)
        links = [rows.nth(i).get_by_role("link").get_attribute("href") for i in range(rows.count())]
        for href in reversed(links):
            page.goto(base + str(href))
            if page.get_by_role("cell", name=cell, exact=True).count():
                return page.url
        page.wait_for_timeout(500)
    raise AssertionError(f"no open {kind} of {SCHOOL_NAME} shows {cell}")
