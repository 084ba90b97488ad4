"""The statistics dashboard (issues 18 and 20): a province officer's numbers are the
statistics API's, the drill-down goes province → county → school and back, each chart has its
table and its xlsx holds the same numbers; axe finds nothing serious."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import NATIONAL_CODE, Tier
from shared.security.principal import Role
from shared.security.testing import Minter
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_admission import intake
from tests.console.test_roster import admitted

SCHOOL = "3301060001"  # Zhejiang, county 330106
COUNTY = "330106"


def api_headcount(federation: LocalFederation, caller: str, unit: str, by: str) -> dict[str, Any]:
    """The statistics API's answer, asked with a token of ``caller``'s own."""
    national = federation.instance_for_unit(Tier.NATIONAL, NATIONAL_CODE)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    answer = httpx.get(
        f"http://{national.host}:{national.port}/api/v1/statistics/headcount",
        params={"unit": unit, "by": by},
        headers=minter.headers(caller, Role.APPROVER),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def api_schools(
    federation: LocalFederation, caller: str, unit: str, **paging: str
) -> dict[str, Any]:
    """One page of the unit's schools as the statistics API answers it."""
    national = federation.instance_for_unit(Tier.NATIONAL, NATIONAL_CODE)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    answer = httpx.get(
        f"http://{national.host}:{national.port}/api/v1/statistics/schools",
        params={"unit": unit} | paging,
        headers=minter.headers(caller, Role.APPROVER),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def expect_schools_page(page: Page, found: dict[str, Any]) -> None:
    """The page's school rows are the API's page: same schools, same order, same numbers."""
    cells = page.locator("#below-table td[data-unit]")
    expect(cells).to_have_count(len(found["rows"]))
    assert [
        (cells.nth(i).get_attribute("data-unit"), cells.nth(i).inner_text().strip())
        for i in range(cells.count())
    ] == [(f"school:{r['code']}", shown(r["students"])) for r in found["rows"]]


def shown(n: int | None) -> str:
    return "<5" if n is None else str(n)


def table_of(page: Page, attribute: str) -> dict[str, str]:
    cells = page.locator(f"td[{attribute}]")
    return {
        cells.nth(i).get_attribute(attribute) or "": cells.nth(i).inner_text().strip()
        for i in range(cells.count())
    }


def expect_matches_api(page: Page, federation: LocalFederation, unit: str) -> dict[str, Any]:
    by_grade = api_headcount(federation, "province:33", unit, "grade")
    assert table_of(page, "data-grade") == {
        str(r["keys"]["grade"]): shown(r["students"]) for r in by_grade["rows"]
    }
    by_status = api_headcount(federation, "province:33", unit, "status")
    assert table_of(page, "data-status") == {
        r["keys"]["status"]: shown(r["students"]) for r in by_status["rows"]
    }
    expect(page.locator("#total")).to_have_text(shown(by_grade["total"]))
    return by_grade


def test_the_dashboard_shows_the_apis_numbers_and_drills_down(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, _ = intake(7, {}, school=SCHOOL, second_grade=range(1, 4))
    admitted(federation, data, school=SCHOOL)
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "province", "33")
        page.get_by_role("link", name="学籍统计").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("学籍统计")
        province = expect_matches_api(page, federation, "province:33")
        assert province["total"] >= 7
        below = api_headcount(federation, "province:33", "province:33", "county")
        assert table_of(page, "data-unit") == {
            f"county:{r['keys']['county']}": shown(r["students"]) for r in below["rows"]
        }
        expect(page.locator(".chart[data-table='grade-table']")).to_have_attribute(
            "data-drawn", str(len(province["rows"]))
        )
        screenshot(page, "dashboard")
        violations = serious_violations(page)
        assert violations == [], f"dashboard: {describe(violations)}"

        with page.expect_download() as download:
            page.get_by_role("link", name="下载 Excel（按年级）").click()
        sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ("grade", "students")
        assert {r[0]: r[1] for r in rows[1:-1]} == {
            r["keys"]["grade"]: r["students"] for r in province["rows"]
        }

        page.locator(f"a[data-unit='county:{COUNTY}']").click()  # drill down to the county
        expect(page.get_by_role("heading", level=1)).to_contain_text("西湖区")
        county = expect_matches_api(page, federation, f"county:{COUNTY}")
        assert county["suppressed"]  # the province looks at a unit below: small counts hidden

        # the county's schools, 50 a page by code, each number the API's
        first = api_schools(federation, "province:33", f"county:{COUNTY}")
        assert first["matching"] > 50 and first["next_after"]
        expect(page.locator("#below-count")).to_contain_text(f"本县共 {first['matching']} 所学校")
        expect_schools_page(page, first)
        by_school = api_headcount(federation, "province:33", f"county:{COUNTY}", "school")
        listed = {r["code"]: r["students"] for r in first["rows"]}
        assert {r["keys"]["school"]: r["students"] for r in by_school["rows"]}.items() <= (
            listed.items()
        )  # the county's schools with students come first by code: all on page one
        page.get_by_role("link", name="下一页").click()
        second = api_schools(
            federation, "province:33", f"county:{COUNTY}", after=first["next_after"]
        )
        expect_schools_page(page, second)
        assert len(first["rows"]) + len(second["rows"]) == first["matching"]
        expect(page.get_by_role("link", name="下一页")).to_have_count(0)
        page.get_by_role("link", name="第一页").click()
        expect_schools_page(page, first)

        # a search by name, then by code
        page.get_by_label("学校代码 / 名称").fill("分页测试学校0")
        page.get_by_role("button", name="查找").click()
        named = api_schools(federation, "province:33", f"county:{COUNTY}", q="分页测试学校0")
        assert named["matching"] == 10
        expect(page.locator("#below-count")).to_contain_text("符合“分页测试学校0”的 10 所学校")
        expect_schools_page(page, named)
        page.get_by_label("学校代码 / 名称").fill(SCHOOL)
        page.get_by_role("button", name="查找").click()
        expect_schools_page(
            page, api_schools(federation, "province:33", f"county:{COUNTY}", q=SCHOOL)
        )
        page.locator("#below-h").scroll_into_view_if_needed()
        screenshot(page, "dashboard-county-schools")
        violations = serious_violations(page)
        assert violations == [], f"county drill-down: {describe(violations)}"

        page.locator(f"a[data-unit='school:{SCHOOL}']").click()  # and to the school
        school = federation.federation.school(SCHOOL)
        assert school is not None
        expect(page.get_by_role("heading", level=1)).to_contain_text(school.name)
        expect_matches_api(page, federation, f"school:{SCHOOL}")
        expect(page.get_by_text("下级单位")).to_have_count(0)  # a school is the bottom

        page.locator("#drill-up").click()  # back up to the county
        expect(page.get_by_role("heading", level=1)).to_have_text("学籍统计：杭州市西湖区")

        # another province's county answers like a unit that does not exist
        page.goto(console.url + "/dashboard?unit=county:410102")
        expect(page.get_by_role("heading", level=1)).not_to_contain_text("学籍统计")
