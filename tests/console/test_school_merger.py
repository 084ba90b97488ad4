"""The county's operator merges a school of the county into another in the console (学校合并:
N2013 art. 9; decision 0043) and reads the report: the student moved, the school closed. The
province's operator does the same for a school the province runs (decision 0049)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.conftest import MERGED_SCHOOL, PROVINCE_MERGED_SCHOOL
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


def _enrolled(
    federation: LocalFederation,
    closing: str = CLOSING,
    authority: tuple[str, str] = ("county", COUNTY),
) -> str:
    """A first-grader registered at the closing school, approved by its authority; born
    and registered (户籍) in the county where the school stands."""
    school = federation.federation.school(closing)
    assert school is not None
    registration_id = register(federation, closing, student(school.county + "0000"))
    found: list[dict[str, Any]] = []
    tier, code = authority
    segment = {"county": "counties", "province": "provinces"}[tier]
    with client(federation, tier, code) as http:

        def listed() -> bool:
            page = http.get(
                f"/api/v1/{segment}/{code}/tasks",
                params={"status": "open", "kind": "registration_batch", "limit": 200},
            )
            found[:] = [t for t in page.json()["items"] if t["school_code"] == closing]
            return bool(found)

        until(listed)
        decided = http.post(
            f"/api/v1/tasks/{found[-1]['task_id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
    last: dict[str, Any] = {}

    def approved() -> bool:
        last.update(registration(federation, closing, registration_id))
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


def test_the_province_operator_merges_a_school_the_province_runs(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    closing = str(PROVINCE_MERGED_SCHOOL["code"])
    number = _enrolled(federation, closing, ("province", "41"))
    with context(browser, bypass_csp=True) as province_ctx:  # axe is injected as a script tag
        page = province_ctx.new_page()
        log_in_as(page, console, federation, "province", "41")
        page.get_by_role("link", name="学校合并（撤销）").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("学校合并（撤销）")
        # only the schools the province runs can be closed here
        offered = page.locator("#from_school option[value]:not([value=''])")
        codes = {offered.nth(i).get_attribute("value") for i in range(offered.count())}
        assert closing in codes and "4100000001" in codes
        assert CLOSING not in codes and RECEIVING not in codes  # the counties' schools

        page.get_by_label("合并（撤销）的学校").select_option(closing)
        page.get_by_label("合并后学校（或指定接收学校）").select_option(RECEIVING)
        page.get_by_label("撤销（学生转至指定学校）").check()
        page.get_by_label("合并（撤销）日期").fill("2026-09-07")
        page.get_by_role("button", name="办理合并（撤销）").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("学校撤销报告")

        def applied() -> bool:
            page.reload()
            return "已完成" in page.locator("main").inner_text()

        until(applied)
        expect(page.locator("#moved-count")).to_have_text("1 人")
        assert serious_violations(page) == [], describe(serious_violations(page))
        screenshot(page, "school-merger-province")
        page.get_by_role("link", name="返回学校合并（撤销）").click()
        expect(page.locator("table")).to_contain_text(str(PROVINCE_MERGED_SCHOOL["name"]))

    with client(federation, "school", RECEIVING) as http:
        moved = http.get(f"/api/v1/schools/{RECEIVING}/students/{number}")
    assert moved.status_code == 200, moved.text
