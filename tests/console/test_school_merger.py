"""The county's operator merges a school of the county into another in the console (学校合并:
N2013 art. 9; decision 0043) and reads the report: the student moved, the school closed."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.conftest import MERGED_SCHOOL
from tests.console.officers import client, register, registration, until
from tests.console.support import (
    context,
    describe,
    log_in_as,
    screenshot,
    serious_violations,
)
from tests.integration.registration_support import student

CLOSING = str(MERGED_SCHOOL["code"])
RECEIVING, COUNTY = "4101050001", "410105"


def _enrolled(federation: LocalFederation) -> str:
    """A first-grader registered at the closing school, approved by the county."""
    registration_id = register(federation, CLOSING, student(CLOSING))
    found: list[dict[str, Any]] = []
    with client(federation, "county", COUNTY) as http:

        def listed() -> bool:
            page = http.get(
                f"/api/v1/counties/{COUNTY}/tasks",
                params={"status": "open", "kind": "registration_batch", "limit": 200},
            )
            found[:] = [t for t in page.json()["items"] if t["school_code"] == CLOSING]
            return bool(found)

        until(listed)
        decided = http.post(
            f"/api/v1/tasks/{found[-1]['task_id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
    last: dict[str, Any] = {}

    def approved() -> bool:
        last.update(registration(federation, CLOSING, registration_id))
        assert last["status"] in ("pending", "approved"), last
        return last["status"] == "approved"

    until(approved, timeout=120)
    return str(last["student_number"])


def test_the_county_operator_merges_a_school_and_reads_the_report(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = _enrolled(federation)
    with context(browser, bypass_csp=True) as county_ctx:  # axe is injected as a script tag
        page = county_ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        page.get_by_role("link", name="学校合并（撤销）").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("学校合并（撤销）")
        assert serious_violations(page) == [], describe(serious_violations(page))

        page.get_by_label("合并（撤销）的学校").select_option(CLOSING)
        page.get_by_label("合并后学校（或指定接收学校）").select_option(RECEIVING)
        page.get_by_label("合并", exact=True).check()
        page.get_by_label("合并（撤销）日期").fill("2026-09-07")
        page.get_by_role("button", name="办理合并（撤销）").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("学校合并报告")

        def applied() -> bool:
            page.reload()
            return "已完成" in page.locator("main").inner_text()

        until(applied)
        expect(page.locator("#moved-count")).to_have_text("1 人")
        expect(page.locator("#refused-count")).to_have_text("0 人")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "school-merger-report")

        # the list names it; a second merger of the closed school is refused in Chinese
        page.get_by_role("link", name="返回学校合并（撤销）").click()
        expect(page.locator("table")).to_contain_text(str(MERGED_SCHOOL["name"]))
        page.get_by_label("合并（撤销）的学校").select_option(CLOSING)
        page.get_by_label("合并后学校（或指定接收学校）").select_option(RECEIVING)
        page.get_by_label("合并（撤销）日期").fill("2026-09-08")
        page.get_by_role("button", name="办理合并（撤销）").click()
        expect(page.get_by_role("alert").first).to_contain_text("该校已合并或撤销")

    # the student is on the receiving school's roster now
    with client(federation, "school", RECEIVING) as http:
        moved = http.get(f"/api/v1/schools/{RECEIVING}/students/{number}")
    assert moved.status_code == 200, moved.text
