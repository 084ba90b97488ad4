"""A progression in the console: the junior school's registrar admits the graduates of 2027 of
its neighbourhood primary school in one request, each party approves its one task for the
cohort, and the registrar follows the outcome student by student — in Chinese, under the CSP,
with the form's CSRF token, accessible (axe)."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_transfers import Api
from tests.integration.registration_support import student

PRIMARY, JUNIOR, COUNTY = "4101020001", "4101020002", "410102"
PARTIES = [("province", "41"), ("county", COUNTY)]  # then the graduating school, in the console


def wait(check: Any, what: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.3)
    return found


def approve_county(api: Api, kind: str) -> bool:
    tasks = api.call(
        "GET",
        "county",
        COUNTY,
        f"/api/v1/counties/{COUNTY}/tasks",
        params={"status": "open", "kind": kind, "limit": 200},
    ).json()["items"]
    ids = [t["task_id"] for t in tasks if t["school_code"] == PRIMARY]
    if ids:
        body = {"decisions": [{"task_id": i, "decision": "approve"} for i in ids]}
        assert api.call("POST", "county", COUNTY, "/api/v1/tasks/decisions", json=body).is_success
    return bool(ids)


def sixth_graders(federation: LocalFederation, names: list[str], *, graduate: bool) -> list[str]:
    """Grade-6 pupils of the primary school, approved by the county (and graduated)."""
    api = Api(federation)
    for name in names:
        body = student(PRIMARY, name=name, grade=6)
        answer = api.call(
            "POST", "school", PRIMARY, f"/api/v1/schools/{PRIMARY}/students", json=body
        )
        assert answer.status_code == 202, answer.text

    def numbers() -> list[str]:
        approve_county(api, "registration_batch")
        page = api.call(
            "GET",
            "school",
            PRIMARY,
            f"/api/v1/schools/{PRIMARY}/students",
            params={"grade": 6, "limit": 1000},
        ).json()["items"]
        found = [
            s["student_number"] for s in page if s["name"] in names and s["status"] == "enrolled"
        ]
        return found if len(found) == len(names) else []

    enrolled: list[str] = wait(numbers, "registrations approved")
    if graduate:
        items = [{"student_number": n, "outcome": "graduated"} for n in enrolled]
        sent = api.call(
            "POST",
            "school",
            PRIMARY,
            f"/api/v1/schools/{PRIMARY}/graduations",
            json={"graduation_year": 2027, "items": items},
        )
        assert sent.status_code == 202, sent.text
        wait(lambda: approve_county(api, "graduation_batch"), "graduation task")

        def graduated() -> bool:
            return all(
                api.call(
                    "GET", "school", PRIMARY, f"/api/v1/schools/{PRIMARY}/students/{n}"
                ).json()["status"]
                == "graduated"
                for n in enrolled
            )

        wait(graduated, "graduated")
    return enrolled


def approve_parties(federation: LocalFederation, progression_id: str) -> None:
    """The authorities' one task each for the cohort, approved through the API in turn."""
    api = Api(federation)
    for tier, code in PARTIES:
        path = {
            "province": f"/api/v1/provinces/{code}/tasks",
            "county": f"/api/v1/counties/{code}/tasks",
        }.get(tier, f"/api/v1/schools/{code}/progression-tasks")

        def task(p: str = path, t: str = tier, c: str = code) -> list[dict[str, Any]]:
            items = api.call("GET", t, c, p, params={"status": "open", "limit": 200}).json()
            items = items["items"]
            return [x for x in items if x.get("transfer_id") == progression_id]

        [found] = wait(task, f"{tier}:{code}'s task")
        decided = api.call(
            "POST",
            tier,
            code,
            f"/api/v1/tasks/{found['task_id']}/decision",
            json={"decision": "approve"},
        )
        assert decided.status_code == 200, decided.text


def test_a_cohort_is_admitted_in_one_request_and_followed_student_by_student(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    names = ["陈一凡", "陈二凡", "陈三凡"]
    numbers = sixth_graders(federation, names, graduate=True)
    with context(browser) as ctx:
        page = ctx.new_page()
        csp_errors: list[str] = []
        page.on(
            "console", lambda m: csp_errors.append(m.text) if "Content Security" in m.text else None
        )
        log_in_as(page, console, federation, "school", JUNIOR)
        page.get_by_role("link", name="升学接收").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("升学接收")
        page.get_by_label("毕业学校", exact=True).select_option(PRIMARY)
        page.get_by_label("毕业年份").fill("2027")
        screenshot(page, "progression-new")
        page.get_by_role("button", name="提交升学接收申请").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("升学接收 ·")
        progression_id = page.url.rsplit("/", 1)[1]
        approve_parties(federation, progression_id)

        # the graduating school's registrar decides its step (升学核办) from its home page
        with context(browser, bypass_csp=True) as sending_ctx:  # axe is injected inline
            sending = sending_ctx.new_page()
            log_in_as(sending, console, federation, "school", PRIMARY)
            section = sending.locator("section").filter(has_text="待办理的升学核办")

            def listed() -> bool:
                sending.goto(console.url + "/")
                return section.count() > 0

            wait(listed, "the graduating school's progression task on its home page")
            section.get_by_role("link", name="办理").first.click()
            expect(sending.get_by_role("heading", level=1)).to_contain_text("升学核办 ·")
            expect(sending.get_by_role("table")).to_contain_text("陈一凡")
            violations = serious_violations(sending)
            assert violations == [], f"progression step: {describe(violations)}"
            screenshot(sending, "progression-step-school")
            sending.get_by_role("button", name="同意升学").click()
            expect(sending.get_by_role("status")).to_have_text("已办理。")

        items = page.locator("#progression-items")
        expect(items).to_contain_text("已完成", timeout=60_000)
        for number in numbers:
            expect(items.locator("tr").filter(has_text=number)).to_contain_text("已升入本校")
        screenshot(page, "progression-completed")
        assert csp_errors == []

        # the form's CSRF token is required
        forged = page.request.post(
            console.url + "/progressions", form={"from_school": PRIMARY, "graduation_year": "2027"}
        )
        assert forged.status == 403

        page.goto(console.url + f"/students?q={numbers[0]}")
        expect(page.locator("tbody tr")).to_contain_text("七年级")


def test_a_refused_student_is_explained_in_chinese_with_the_article(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    [number] = sixth_graders(federation, ["林未毕"], graduate=False)
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", JUNIOR)
        page.goto(console.url + "/progressions")
        page.get_by_label("毕业学校", exact=True).select_option(PRIMARY)
        page.get_by_label("按名单（学籍号或身份证号）").check()
        page.get_by_label("名单（每行一个，或用逗号分隔）").fill(number)
        page.get_by_role("button", name="提交升学接收申请").click()
        items = page.locator("#progression-items")
        expect(items).to_contain_text("未通过（规则）", timeout=60_000)
        row = items.locator("tr").filter(has_text=number)
        expect(row).to_contain_text("不符合升学条件")
        expect(row).to_contain_text("该学生未毕业")
        expect(row).to_contain_text("N2013 art. 13")
        assert "not graduated" not in row.inner_text()
        screenshot(page, "progression-refused")


def test_the_citys_schools_are_offered_and_one_elsewhere_is_named_by_its_code(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    """A country has ~250,000 primary schools: the page offers those of the receiving school's
    city, and a graduating school elsewhere is named by its code."""
    elsewhere = "3301020001"  # 杭州市上城区胜利小学, a primary school of another province
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", JUNIOR)
        page.goto(console.url + "/progressions")
        offered = page.locator("#from_school option:not([value=''])")
        codes = offered.evaluate_all("options => options.map(o => o.value)")
        assert PRIMARY in codes and "4101050001" in codes  # two counties of 郑州
        assert not any(code.startswith(("33", "51")) for code in codes), codes  # other provinces
        assert JUNIOR not in codes  # a junior school's graduates do not progress to one
        page.get_by_label("毕业学校", exact=True).select_option(PRIMARY)
        page.get_by_label("或其他地区毕业学校的代码").fill(elsewhere)
        page.get_by_label("毕业年份").fill("2027")
        page.get_by_role("button", name="提交升学接收申请").click()
        expect(page.get_by_text("请只选择或填写一所毕业学校。")).to_be_visible()
        page.get_by_label("毕业学校", exact=True).select_option("")
        page.get_by_role("button", name="提交升学接收申请").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("升学接收 · 杭州市上城区胜利小学")


def test_progression_pages_are_accessible(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", JUNIOR)
        page.goto(console.url + "/progressions")
        violations = serious_violations(page)
        assert violations == [], f"/progressions: {describe(violations)}"
        if page.locator("tbody a").count():
            page.locator("tbody a").first.click()
            violations = serious_violations(page)
            assert violations == [], f"{page.url}: {describe(violations)}"
