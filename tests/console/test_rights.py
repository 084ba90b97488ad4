"""Rights in the console: a Sichuan school's signed data-security pledge before its export
(附表4, LS 7), the export approved on the county's desk, and national's register of client
systems for status checks (N2025 art. 24), each checked from the API's side too."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from tests.console.support import context, describe, log_in, screenshot, serious_violations

# Sichuan's rules hold a school's export requests until its signed pledge is on file; no other
# console test exports from this school.
SCHOOL, COUNTY = "5101040001", "510104"
SCAN = b"%PDF-1.4\n% the pledge, signed and sealed\n"


def _log_in(
    page: Page, console: LocalConsole, federation: LocalFederation, tier: str, code: str
) -> None:
    """The development account's login; a login hashes a password, which takes a while on a
    busy machine: the home page is awaited longer than an expectation's default."""
    username, password = federation.dev_account(tier, code)
    log_in(page, console, code, username, password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("待", timeout=30_000)


def test_a_school_uploads_its_signed_pledge_and_the_county_approves_its_export(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    with (
        context(browser, bypass_csp=True) as school_ctx,
        context(browser, bypass_csp=True) as county_ctx,
    ):
        page = school_ctx.new_page()
        _log_in(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="数据导出").click()
        pledge = page.locator("#pledge")
        expect(pledge).to_contain_text("须先打印承诺书，签字盖章后上传扫描件，方可申请导出")

        page.get_by_label("姓名").check()
        page.get_by_label("导出用途").fill("核对学生资助名单")
        page.get_by_role("button", name="提交导出申请").click()
        expect(page.locator("#export-form .alert")).to_contain_text("数据管理安全承诺书（附表4）")

        with page.expect_download() as printed:
            pledge.get_by_role("link", name="打印承诺书（PDF）").click()
        assert printed.value.path().read_bytes().startswith(b"%PDF")
        page.reload()
        expect(pledge).to_contain_text("已打印，待上传签字盖章的扫描件")
        page.get_by_label("签字盖章的承诺书扫描件（PDF、JPEG 或 PNG）").set_input_files(
            {"name": "承诺书.pdf", "mimeType": "application/pdf", "buffer": SCAN}
        )
        page.get_by_role("button", name="上传扫描件").click()
        expect(page.get_by_role("status")).to_have_text("承诺书扫描件已上传。")
        expect(pledge).to_contain_text("已备案")

        page.get_by_label("姓名").check()
        page.get_by_label("导出用途").fill("核对学生资助名单")
        page.get_by_role("button", name="提交导出申请").click()
        expect(page.get_by_role("status")).to_have_text("导出申请已提交，等待学籍主管部门审批。")
        screenshot(page, "exports-pledge")
        violations = serious_violations(page)
        assert violations == [], f"exports: {describe(violations)}"

        # the county's officer finds it among the desk's tasks, kept at the school's service
        officer = county_ctx.new_page()
        _log_in(officer, console, federation, "county", COUNTY)
        approvals = officer.locator("#export-approvals tbody tr").filter(
            has_text="核对学生资助名单"
        )
        expect(approvals).to_have_count(1)
        approvals.get_by_role("link", name="审批").click()
        expect(officer.get_by_role("heading", level=1)).to_contain_text("导出审批")
        facts = officer.locator("dl.facts")
        expect(facts).to_contain_text("核对学生资助名单")
        expect(facts).to_contain_text("姓名")
        screenshot(officer, "export-task")
        violations = serious_violations(officer)
        assert violations == [], f"export task: {describe(violations)}"
        officer.get_by_role("button", name="批准导出").click()
        expect(officer.get_by_role("status")).to_have_text("已办理。")
        expect(
            officer.locator("#export-approvals tbody tr").filter(has_text="核对学生资助名单")
        ).to_have_count(0)

        page.reload()
        row = page.locator("#exports tbody tr").filter(has_text="核对学生资助名单")
        expect(row).to_contain_text("已批准")


def test_national_registers_a_client_system_whose_checks_answer_yes_or_no(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    checks = federation.base_url(federation.instance_for_unit(Tier.NATIONAL, "CN").name)
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        _log_in(page, console, federation, "national", "CN")
        page.get_by_role("link", name="接入系统").click()
        page.get_by_label("系统编号").fill("sc-aid")
        page.get_by_label("系统名称").fill("四川省学生资助管理系统")
        page.get_by_label("用途代码").fill("student_aid")
        page.get_by_label("是否在读").check()
        page.get_by_label("所在县（区）").check()
        page.get_by_label("依据（法规或批准文件）").fill("学生资助资金管理办法")
        page.get_by_role("button", name="登记").click()
        expect(page.locator("#secret")).to_contain_text("密钥只显示这一次")
        secret = page.locator("#client-secret").inner_text()
        assert len(secret) >= 40
        page.reload()
        row = page.locator("#clients tbody tr").filter(has_text="sc-aid")
        expect(row).to_contain_text("是否在读、所在县（区）")
        screenshot(page, "clients")
        violations = serious_violations(page)
        assert violations == [], f"clients: {describe(violations)}"

        body = {
            "purpose": "student_aid",
            "subject": {"student_number": "G510104201803070011"},
            "claims": {"enrolled": False, "county": COUNTY},
        }
        url = checks + "/api/v1/status-checks"
        answered = httpx.post(url, json=body, auth=("sc-aid", secret))
        assert answered.status_code == 200, answered.text
        assert answered.json()["answers"] == {"enrolled": True, "county": False}  # unknown
        beyond = httpx.post(url, json={**body, "claims": {"grade": 3}}, auth=("sc-aid", secret))
        assert (beyond.status_code, beyond.json()["code"]) == (403, "status_claim_beyond_purpose")

        row.get_by_role("button", name="注销").click()
        expect(page.get_by_role("status")).to_have_text("接入系统已注销，其密钥即时失效。")
        expect(page.locator("#clients tbody tr").filter(has_text="sc-aid")).to_contain_text(
            "已注销"
        )
        assert httpx.post(url, json=body, auth=("sc-aid", secret)).status_code == 401
