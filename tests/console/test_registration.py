"""Registering one student in the console: the live ID check, the county officer's approval
in the console, and the student number on the registrar's page."""

from __future__ import annotations

import random
from datetime import date

from playwright.sync_api import Browser, Page, Route, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.support import context, log_in_as, screenshot
from tests.ids import fresh_resident_id

SCHOOL = "4101020001"  # Henan: the county officer approves each registration
COUNTY = "410102"


def test_a_bad_check_character_is_shown_before_submitting(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    good = fresh_resident_id(random.Random(), COUNTY, date(2019, 5, 17), "female")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="新生登记").click()
        submitted: list[str] = []
        page.on(
            "request",
            lambda r: (
                submitted.append(r.url)
                if r.url.endswith("/students/new") and r.method == "POST"
                else None
            ),
        )
        page.get_by_label("证件号码").fill(bad)
        expect(page.locator("#id-check")).to_contain_text("校验码错误")
        assert submitted == []  # checked as typed, nothing submitted
        screenshot(page, "register-bad-id")
        page.get_by_label("证件号码").fill(good)
        expect(page.locator("#id-check")).to_contain_text("号码有效")
        expect(page.get_by_label("出生日期")).to_have_value("2019-05-17")
        expect(page.get_by_label("性别")).to_have_value("female")


def test_registered_approved_and_numbered(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    id_number = fresh_resident_id(random.Random(), COUNTY, date(2019, 3, 7), "male")
    with context(browser) as registrar_ctx, context(browser) as officer_ctx:
        registrar = registrar_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.goto(console.url + "/students/new")
        registrar.get_by_label("姓名", exact=True).fill("张晓明")
        registrar.get_by_label("证件号码").fill(id_number)
        expect(registrar.locator("#id-check")).to_contain_text("性别男")
        registrar.get_by_label("民族").fill("汉族")
        registrar.get_by_label("入学日期").fill("2026-09-01")
        registrar.get_by_label("监护人姓名").fill("张建国")
        registrar.get_by_label("与学生关系").fill("父亲")
        registrar.get_by_label("监护人电话").fill("13800000000")
        registrar.get_by_label("户籍地行政区划代码").fill(COUNTY)
        screenshot(registrar, "register")
        # the submission is held on its way: the button stays disabled meanwhile (no second
        # submission), and the form goes through once it is released
        held: list[Route] = []
        registrar.route(
            "**/students/new",
            lambda route: (
                held.append(route) if route.request.method == "POST" else route.continue_()
            ),
        )
        submit = registrar.get_by_role("button", name="提交审核")
        submit.click()
        expect(submit).to_be_disabled()
        assert len(held) == 1
        held[0].continue_()
        registrar.unroute("**/students/new")
        expect(registrar.get_by_role("heading", level=1)).to_have_text("学籍登记")
        expect(registrar.locator("#registration-status")).to_contain_text("审核中")
        registration_url = registrar.url

        registrar.get_by_role("link", name="待办", exact=True).click()
        expect(registrar.get_by_role("link", name="张晓明")).to_be_visible()
        screenshot(registrar, "home-school")

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        open_batch(officer, console.url, "郑州市中原区第一实验小学", "张晓明")
        expect(officer.get_by_role("cell", name=id_number)).to_be_visible()
        screenshot(officer, "county-task")
        officer.get_by_role("button", name="同意").click()
        expect(officer.get_by_role("status")).to_have_text("已办理。")

        registrar.goto(registration_url)
        expect(registrar.locator("#student-number")).to_have_text("G" + id_number, timeout=45_000)
        screenshot(registrar, "registration-approved")
        registrar.go_back()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("待办事项")


def open_batch(page: Page, base: str, school_name: str, student_name: str) -> None:
    """From the officer's home page, open the school's open registration batch holding the
    student (the batch reaches the county a moment after the registrar submits)."""
    for _ in range(60):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text=school_name).filter(has_text="学籍建立")
        if rows.count():
            screenshot(page, "home-county")
        links = [rows.nth(i).get_by_role("link").get_attribute("href") for i in range(rows.count())]
        for href in reversed(links):
            page.goto(base + str(href))
            if page.get_by_role("cell", name=student_name, exact=True).count():
                return
        page.wait_for_timeout(500)
    raise AssertionError(f"no open batch of {school_name} holds {student_name}")


def test_an_under_age_first_grader_is_registered_with_the_approval(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    """HA art. 4: five on August 31, the child is refused at the upload field until the
    authority's approval is attached; the county officer then opens it from the task."""
    id_number = fresh_resident_id(random.Random(), COUNTY, date(2021, 3, 7), "female")
    with context(browser) as registrar_ctx, context(browser) as officer_ctx:
        registrar = registrar_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.goto(console.url + "/students/new")
        registrar.get_by_label("姓名", exact=True).fill("李小芳")
        registrar.get_by_label("证件号码").fill(id_number)
        expect(registrar.locator("#id-check")).to_contain_text("号码有效")
        registrar.get_by_label("入学日期").fill("2026-09-01")
        registrar.get_by_role("button", name="提交审核").click()
        expect(registrar.locator("#proof-error")).to_contain_text("未经主管教育行政部门批准")
        expect(registrar.get_by_label("姓名", exact=True)).to_have_value("李小芳")
        screenshot(registrar, "register-under-age")
        approval = b"%PDF-1.4 early admission approval"
        registrar.get_by_label("主管教育行政部门的提前入学批准材料").set_input_files(
            files=[{"name": "批准.pdf", "mimeType": "application/pdf", "buffer": approval}]
        )
        registrar.get_by_role("button", name="提交审核").click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("学籍登记")

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        open_batch(officer, console.url, "郑州市中原区第一实验小学", "李小芳")
        expect(officer.get_by_role("row").filter(has_text="李小芳")).to_contain_text("HA art. 4")
        link = officer.get_by_role("link", name="主管教育行政部门提前入学批准材料：批准.pdf")
        href = link.get_attribute("href")
        assert href is not None
        assert officer.request.get(console.url + href).body() == approval
        screenshot(officer, "county-task-under-age")
