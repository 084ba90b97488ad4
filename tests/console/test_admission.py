"""Bulk admission in the console: the template, an upload of 300 rows with 3 bad ones, the
progress bar while the authority's decisions come back, the per-row error report."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.support import context, log_in_as, screenshot
from tests.ids import fresh_resident_id
from tests.integration.registration_support import unique_name

SCHOOL = "3301020001"  # Zhejiang: registrations that pass every check are approved by the system
HEADER = ["姓名", "性别", "出生日期", "证件类型", "证件号码", "民族", "年级", "入学日期"]


def intake(
    rows: int, bad: dict[int, str], *, school: str = SCHOOL, second_grade: range = range(0)
) -> tuple[bytes, list[str]]:
    """A CSV of ``rows`` first-graders of ``school`` (second-graders at the indexes in
    ``second_grade``); the rows in ``bad`` (1-based, after the header) broken in the named
    way."""
    rng = random.Random()
    names = []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for index in range(1, rows + 1):
        birth = date(2019, 1, 1) + timedelta(days=rng.randrange(365))
        sex = rng.choice(["male", "female"])
        id_number = fresh_resident_id(rng, school[:6], birth, sex)
        name = unique_name()
        enrolled = "2026-09-01"
        if bad.get(index) == "check_character":
            id_number = id_number[:17] + ("0" if id_number[17] != "0" else "1")
        elif bad.get(index) == "name":
            name = ""
        elif bad.get(index) == "future":
            enrolled = "2026-12-01"
        names.append(name)
        gender = "男" if sex == "male" else "女"
        writer.writerow(
            [
                name,
                gender,
                birth.isoformat(),
                "居民身份证",
                id_number,
                "汉族",
                "二年级" if index in second_grade else "一年级",
                enrolled,
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8"), names


def test_three_hundred_rows_three_bad(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, _ = intake(300, {17: "check_character", 150: "name", 299: "future"})
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="批量招生导入").click()
        with page.expect_download() as template:
            page.get_by_role("link", name="下载导入模板（CSV）").click()
        header = template.value.path().read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.split(",")[:8] == HEADER
        screenshot(page, "admission-upload")

        page.get_by_label("招生文件（CSV 或 .xlsx）").set_input_files(
            files=[{"name": "2026级新生.csv", "mimeType": "text/csv", "buffer": data}]
        )
        page.get_by_role("button", name="上传并检查").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("导入结果：2026级新生.csv")
        expect(page.get_by_text("共 300 行：297 行已提交审核，3 行有错误。")).to_be_visible()
        bar = page.locator("#progress-bar")
        expect(bar).to_be_visible()
        seen = [int(bar.get_attribute("value") or 0)]
        screenshot(page, "admission-progress")
        expect(page.locator("#admission-progress")).to_contain_text("审核完毕", timeout=90_000)
        seen.append(int(bar.get_attribute("value") or 0))
        assert seen[-1] == 100 and seen == sorted(seen)
        expect(page.locator("#admission-progress")).to_contain_text("通过 297")

        report = page.get_by_role("table").filter(has_text="行号")
        expect(report.get_by_role("row")).to_have_count(4)  # header + 3 bad rows
        for row, reason in ((18, "校验码"), (151, "必填"), (300, "入学日期")):
            expect(report.get_by_role("row").filter(has_text=reason).first).to_contain_text(
                str(row)
            )
        screenshot(page, "admission-report")
        with page.expect_download() as errors:
            page.get_by_role("link", name="下载错误报告（CSV）").click()
        lines = list(
            csv.DictReader(io.StringIO(errors.value.path().read_text(encoding="utf-8-sig")))
        )
        assert sorted(int(line["row"]) for line in lines) == [18, 151, 300]
