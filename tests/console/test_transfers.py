"""A transfer in the console: the receiving registrar starts it with a proof, the sending
registrar and both county officers each find it on their home page and decide, in four
browser contexts, and the receiving registrar follows the steps to the end."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.integration.registration_support import student

SENDING, SENDING_COUNTY = "5134010001", "513401"  # Sichuan: no transfer window
RECEIVING, RECEIVING_COUNTY = "5101040001", "510104"
HENAN_SCHOOL = "4101020003"  # Henan wants the origin registration proof from other provinces


class Api:
    def __init__(self, federation: LocalFederation) -> None:
        self.federation = federation
        self.minter = Minter.for_federation(federation.keys_dir, federation.federation)

    def call(self, method: str, tier: str, code: str, path: str, **kw: Any) -> httpx.Response:
        instance = self.federation.instance_for_unit(Tier(tier), code)
        url = f"http://{instance.host}:{instance.port}{path}"
        headers = self.minter.headers(f"{tier}:{code}")
        return httpx.request(method, url, headers=headers, timeout=30, **kw)


def enrolled(federation: LocalFederation, school: str, county: str, name: str) -> str:
    """A first-grader registered at ``school`` and approved by its county; the number."""
    api = Api(federation)
    body = student(school, name=name)
    answer = api.call("POST", "school", school, f"/api/v1/schools/{school}/students", json=body)
    assert answer.status_code == 202, answer.text
    registration = answer.json()["links"]["self"]
    deadline = time.monotonic() + 60
    while True:
        state = api.call("GET", "school", school, registration).json()
        if state["status"] == "approved":
            return str(state["student_number"])
        tasks = api.call(
            "GET",
            "county",
            county,
            f"/api/v1/counties/{county}/tasks",
            params={"status": "open", "kind": "registration_batch"},
        ).json()["items"]
        for task in tasks:
            if task["school_code"] == school:
                decision = {"decision": "approve"}
                path = f"/api/v1/tasks/{task['task_id']}/decision"
                api.call("POST", "county", county, path, json=decision)
        assert time.monotonic() < deadline, state
        time.sleep(0.3)


def decide_on_home(page: Page, base: str, row_text: str, marker: str, button: str) -> None:
    """From the home page, open the task whose row says ``row_text`` and whose page shows
    ``marker``, and press ``button`` (the task arrives once the previous party decided)."""
    for _ in range(90):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text=row_text)
        hrefs = [
            rows.nth(i).get_by_role("link").first.get_attribute("href") for i in range(rows.count())
        ]
        for href in hrefs:
            page.goto(base + str(href))
            if page.get_by_text(marker).count() and page.get_by_role("button", name=button).count():
                page.get_by_role("button", name=button).click()
                expect(page.get_by_role("status")).to_have_text("已办理。")
                return
        page.wait_for_timeout(500)
    raise AssertionError(f"no open task with {marker!r} on the home page")


def test_four_people_four_browsers(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = enrolled(federation, SENDING, SENDING_COUNTY, "李思源")
    with (
        context(browser) as receiving_ctx,
        context(browser) as sending_ctx,
        context(browser) as sending_county_ctx,
        context(browser) as receiving_county_ctx,
    ):
        receiving = receiving_ctx.new_page()
        log_in_as(receiving, console, federation, "school", RECEIVING)
        receiving.get_by_role("link", name="转入", exact=True).click()
        receiving.get_by_role("link", name="办理转入").first.click()
        receiving.get_by_label("学籍号").fill(number)
        receiving.get_by_label("转出学校代码").fill(SENDING)
        receiving.get_by_label("转学原因").fill("随父母工作调动迁居成都")
        receiving.get_by_label("材料 1 文件").set_input_files(
            files=[
                {
                    "name": "转学申请表.pdf",
                    "mimeType": "application/pdf",
                    "buffer": b"%PDF-1.4 form",
                }
            ]
        )
        screenshot(receiving, "transfer-new")
        receiving.get_by_role("button", name="提交转入申请").click()
        expect(receiving.get_by_role("heading", level=1)).to_have_text(f"转入申请 · {number}")
        expect(receiving.locator("#transfer-steps")).to_contain_text("转出学校")
        transfer_url = receiving.url

        sending = sending_ctx.new_page()
        log_in_as(sending, console, federation, "school", SENDING)
        expect(sending.get_by_role("row").filter(has_text="李思源")).to_contain_text(
            "年", timeout=45_000
        )
        screenshot(sending, "home-transfer-out")
        decide_on_home(sending, console.url, "李思源", number, "同意转出")

        sending_county = sending_county_ctx.new_page()
        log_in_as(sending_county, console, federation, "county", SENDING_COUNTY)
        decide_on_home(sending_county, console.url, "转学核办", number, "同意")

        receiving_county = receiving_county_ctx.new_page()
        log_in_as(receiving_county, console, federation, "county", RECEIVING_COUNTY)
        decide_on_home(receiving_county, console.url, "转学核办", number, "同意")

        receiving.goto(transfer_url)
        steps = receiving.locator("#transfer-steps")
        expect(steps).to_contain_text("已完成", timeout=60_000)
        for party in ("转出学校", "转出地教育行政部门", "转入地教育行政部门"):
            expect(steps.locator("li").filter(has_text=party)).to_contain_text("办理")
        screenshot(receiving, "transfer-completed")
        receiving.goto(console.url + f"/students?q={number}")
        expect(receiving.locator("tbody tr")).to_contain_text("李思源")


def test_a_province_rule_refusal_is_shown_in_chinese(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = enrolled(federation, SENDING, SENDING_COUNTY, "王若溪")
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", HENAN_SCHOOL)
        page.goto(console.url + "/transfers/new")
        page.get_by_label("学籍号").fill(number)
        page.get_by_label("转出学校代码").fill(SENDING)
        page.get_by_label("转学原因").fill("随父母迁居郑州")
        page.get_by_label("材料 1 文件").set_input_files(
            files=[{"name": "申请表.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}]
        )
        page.get_by_role("button", name="提交转入申请").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("证明材料")
        assert "proof" not in alert.inner_text()  # the API's English never reaches the page
        screenshot(page, "transfer-refused")


def test_transfer_and_authority_pages_are_accessible(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", RECEIVING)
        for path in ("/", "/transfers", "/transfers/new"):
            page.goto(console.url + path)
            violations = serious_violations(page)
            assert violations == [], f"{path}: {describe(violations)}"
        page.get_by_role("link", name="转入", exact=True).click()
        page.locator("tbody a").first.click()
        violations = serious_violations(page)
        assert violations == [], f"{page.url}: {describe(violations)}"
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", RECEIVING_COUNTY)
        violations = serious_violations(page)
        assert violations == [], f"county home: {describe(violations)}"


def test_an_overdue_step_is_marked_on_the_home_page(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = enrolled(federation, SENDING, SENDING_COUNTY, "赵一鸣")
    api = Api(federation)
    started = api.call(
        "POST",
        "school",
        RECEIVING,
        f"/api/v1/schools/{RECEIVING}/transfers-in",
        json={
            "student_number": number,
            "from_school": SENDING,
            "grade": 1,
            "reason": "随父母迁居",
            "proofs": [
                {"kind": "application_form", "filename": "a.pdf", "content_base64": "JVBERi0x"}
            ],
        },
    )
    assert started.status_code == 202, started.text
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", RECEIVING)
        row = page.get_by_role("row").filter(has_text=number)
        for _ in range(60):  # national opens the sending school's step a moment later
            if "转出学校" in (row.inner_text() if row.count() else ""):
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(row).to_contain_text("转出学校")
        expect(row).not_to_contain_text("已逾期")
        # the sending school lets the due date pass: national's sweep reports the step overdue
        swept = api.call(
            "POST",
            "national",
            "CN",
            "/api/v1/operations/deadline-sweep",
            json={"as_of": "2026-12-30"},
        )
        assert swept.status_code == 200, swept.text
        page.reload()
        expect(row).to_contain_text("已逾期")
        expect(page.get_by_role("alert")).to_contain_text("已逾期")
        screenshot(page, "home-overdue")
