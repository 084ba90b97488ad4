"""Archive sections 3-7 in the browser (N2013 art. 7; ZJ art. 8): the school registrar writes a
check-up and Zhejiang's own item (创新实践, from its rules file) from the student's page, and
uploads a class's term results with a bad row shown with its row number and reason."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_records import SCHOOL, admit, api


def archive_active(federation: LocalFederation, number: str) -> None:
    """Wait until the province holds the student's archive (the registration's outcome)."""
    base = api(federation, Tier.PROVINCE, "33")
    headers = Minter.for_federation(federation.keys_dir, federation.federation).headers(
        f"school:{SCHOOL}"
    )
    deadline = time.monotonic() + 60
    while (
        httpx.get(f"{base}/api/v1/schools/{SCHOOL}/archives/{number}", headers=headers).status_code
        != 200
    ):
        assert time.monotonic() < deadline, "the archive never became active"
        time.sleep(0.3)


def test_a_registrar_writes_sections_and_uploads_a_class_sheet(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    [(_, number), (_, other)] = admit(federation, 1, 2)
    archive_active(federation, number)
    archive_active(federation, other)
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.goto(f"{console.url}/students/{number}")
        page.get_by_role("link", name="综合素质、体质健康、获奖、资助等档案记录").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(number)

        page.get_by_role("link", name="体质健康·健康体检").click()
        expect(page.get_by_role("heading", level=2, name="录入：健康体检")).to_be_visible()
        page.get_by_label("体检日期").fill("2026-09-01")
        page.get_by_label("身高（厘米）").fill("121.5")
        page.get_by_label("体重（千克）").fill("23")
        page.get_by_label("体检结论（选填）").fill("健康")
        page.get_by_role("button", name="保存记录").click()
        row = page.get_by_role("row").filter(has_text="健康体检")
        expect(row).to_contain_text("身高（厘米）：121.5")
        expect(row).to_contain_text(f"school:{SCHOOL}")

        # Zhejiang's own item (config/provinces/33.toml), refused without its project first
        page.get_by_role("link", name="其他·创新实践").click()
        page.get_by_label("日期").fill("2026-09-02")
        page.locator("#archive-entry-form").evaluate("f => f.noValidate = true")
        page.get_by_role("button", name="保存记录").click()
        expect(page.get_by_role("alert")).to_contain_text("缺少必填项")
        page.get_by_label("项目").fill("校园气象站")
        page.get_by_role("button", name="保存记录").click()
        expect(page.get_by_role("row").filter(has_text="创新实践")).to_contain_text("校园气象站")
        screenshot(page, "archive-sections")
        violations = serious_violations(page)
        assert violations == [], f"archive sections page: {describe(violations)}"

        page.get_by_role("link", name="档案批量录入").click()
        page.get_by_label("录入内容").select_option("term_results")
        page.get_by_label("学年学期（学期成绩必填，如 2026-2027-1）").fill("2026-2027-1")
        sheet = f"学籍号,姓名,语文,数学\n{number},甲,95,88\n{other},乙,96,200\n"
        page.get_by_label("表格文件").set_input_files(
            {"name": "一年级1班.csv", "mimeType": "text/csv", "buffer": sheet.encode("utf-8")}
        )
        page.get_by_role("button", name="上传并录入").click()
        expect(page.locator("#upload-counts")).to_have_text("共 2 行：已录入 1 行，有误 1 行。")
        bad = page.get_by_role("row").filter(has_text="数学")
        expect(bad).to_contain_text("3")
        expect(bad).to_contain_text("成绩应为 0 至 150 的分数")
        screenshot(page, "archive-upload")
        violations = serious_violations(page)
        assert violations == [], f"archive upload page: {describe(violations)}"

        page.goto(f"{console.url}/students/{number}/archive")
        expect(page.get_by_role("row").filter(has_text="学业成绩")).to_contain_text("语文 95")
