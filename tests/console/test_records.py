"""The registrar's record work in the browser: a status change with the proof its province
requires, approved by the county officer; the graduating list; the term's roster
confirmation; an export asked for, approved and downloaded; the home page's chart."""

from __future__ import annotations

import csv
import io
import random
import time
from datetime import date, timedelta

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.principal import Role
from shared.security.testing import Minter
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_admission import HEADER
from tests.ids import fresh_resident_id
from tests.integration.registration_support import unique_name

SCHOOL, COUNTY = "3301020001", "330102"  # Zhejiang: registrations approved by the system
SCHOOL_NAME = "杭州市上城区胜利小学"
GRADES = {1: "一年级", 6: "六年级"}
PDF = b"%PDF-1.4\n% a hospital certificate\n"


def api(federation: LocalFederation, tier: Tier, code: str) -> str:
    instance = federation.instance_for_unit(tier, code)
    return f"http://{instance.host}:{instance.port}"


def admit(federation: LocalFederation, grade: int, count: int) -> list[tuple[str, str]]:
    """``count`` students of ``grade`` admitted through the school's API and approved (by the
    system, in Zhejiang): their (name, student number)."""
    rng = random.Random()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    names = []
    for _ in range(count):
        birth = date(2020 - grade, 1, 1) + timedelta(days=rng.randrange(300))
        sex = rng.choice(["male", "female"])
        name = unique_name()
        names.append(name)
        writer.writerow(
            [
                name,
                "男" if sex == "male" else "女",
                birth.isoformat(),
                "居民身份证",
                fresh_resident_id(rng, COUNTY, birth, sex),
                "汉族",
                GRADES[grade],
                "2026-09-01",
            ]
        )
    base = api(federation, Tier.SCHOOL, SCHOOL)
    headers = Minter.for_federation(federation.keys_dir, federation.federation).headers(
        f"school:{SCHOOL}"
    )
    job = httpx.post(
        f"{base}/api/v1/schools/{SCHOOL}/admission-jobs",
        files={"file": ("intake.csv", ("\ufeff" + out.getvalue()).encode(), "text/csv")},
        headers=headers,
        timeout=60,
    )
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 90
    while True:
        state = httpx.get(base + job.json()["links"]["self"], headers=headers).json()
        if state["registrations"]["approved"] == state["rows"]["accepted"] == count:
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.3)
    numbers = {}
    for name in names:
        found = httpx.get(
            f"{base}/api/v1/schools/{SCHOOL}/students", params={"q": name}, headers=headers
        ).json()
        numbers[name] = found["items"][0]["student_number"]
    return [(name, numbers[name]) for name in names]


def decide_task(page: Page, base: str, kind: str) -> None:
    """From the officer's home page, approve the school's open tasks of ``kind`` (they reach
    the county a moment after the registrar submits)."""
    for _ in range(80):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text=kind).filter(has_text=SCHOOL_NAME)
        links = [rows.nth(i).get_by_role("link").get_attribute("href") for i in range(rows.count())]
        for href in links:
            page.goto(base + str(href))
            page.get_by_role("button", name="同意").click()
            expect(page.get_by_role("status")).to_have_text("已办理。")
        if links:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"no open {kind} task of {SCHOOL_NAME}")


def no_csp_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", seen)
    return errors


def test_a_suspension_needs_the_provinces_proof_and_the_county_decides(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    [(_, number)] = admit(federation, 1, 1)
    with context(browser, bypass_csp=True) as registrar_ctx, context(browser) as officer_ctx:
        registrar = registrar_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.get_by_role("link", name="学籍变动").click()
        registrar.get_by_role("link", name="办理学籍变动").click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("学籍变动申请：休学")
        # Zhejiang requires a hospital certificate for a suspension (config/provinces/33.toml)
        expect(registrar.locator("#proofs-required")).to_contain_text("医院诊断证明")
        expect(registrar.get_by_label("医院诊断证明（必须）")).to_be_visible()
        # one form per kind: a death asks for its own proof
        registrar.get_by_role("link", name="死亡注销").click()
        expect(registrar.get_by_label("死亡证明（必须）")).to_be_visible()
        registrar.get_by_role("link", name="休学", exact=True).click()

        registrar.get_by_label("学籍号").fill(number)
        registrar.get_by_label("生效日期").fill("2026-09-03")
        registrar.get_by_label("原因类别").select_option("illness")
        registrar.get_by_label("申请理由").fill("因病住院治疗，监护人书面申请休学一年。")
        # without the certificate the console refuses before the API is asked
        registrar.locator("#status-change-form").evaluate("f => f.noValidate = true")
        registrar.get_by_role("button", name="提交申请").click()
        expect(registrar.locator("#proof_0-error")).to_have_text("请上传医院诊断证明。")
        screenshot(registrar, "status-change-new")
        violations = serious_violations(registrar)
        assert violations == [], f"status change form: {describe(violations)}"
        registrar.get_by_label("医院诊断证明（必须）").set_input_files(
            {"name": "诊断证明.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        submit = registrar.get_by_role("button", name="提交申请")
        submit.click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("学籍变动：休学")
        expect(registrar.locator("#status-change-status")).to_contain_text("已报送")
        expect(registrar.get_by_text("医院诊断证明：诊断证明.pdf")).to_be_visible()
        change_url = registrar.url

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        decide_task(officer, console.url, "学籍变动")

        registrar.goto(change_url)
        expect(registrar.locator("#status-change-status")).to_contain_text("已生效", timeout=45_000)
        expect(registrar.locator("#status-change-status")).to_contain_text("学籍状态：休学")
        screenshot(registrar, "status-change-applied")
        registrar.get_by_role("link", name="学籍变动").first.click()
        expect(registrar.get_by_role("row").filter(has_text=number)).to_contain_text("已生效")

        # a resumption into grade 3 of a first-grader: Zhejiang's authority only records a
        # resumption, national refuses this one, and the registrar reads why in Chinese, with
        # the articles the Chinese way
        registrar.goto(f"{console.url}/status-changes/new?change=resume&student_number={number}")
        expect(registrar.locator("#proofs-required")).to_contain_text("未规定必须提供")
        expect(registrar.locator("#proofs-required")).to_contain_text("备案")
        registrar.get_by_label("生效日期").fill("2026-09-05")
        registrar.get_by_label("编入年级").select_option("3")
        registrar.get_by_label("申请理由").fill("病愈复学。")
        registrar.get_by_role("button", name="提交申请").click()
        refused = registrar.locator("#status-change-status")
        expect(refused).to_contain_text(
            "未通过：复学年级不得跳过年级。（浙 第十五条；豫 第十三条（三））", timeout=45_000
        )
        screenshot(registrar, "status-change-refused")


def test_the_graduating_list_is_sent_and_approved(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    students = admit(federation, 6, 3)
    (_, first_number), (second, second_number), _ = students
    with context(browser, bypass_csp=True) as registrar_ctx, context(browser) as officer_ctx:
        registrar = registrar_ctx.new_page()
        errors = no_csp_errors(registrar)
        log_in_as(registrar, console, federation, "school", SCHOOL)
        # the home page's chart of enrolled students per grade, drawn by the vendored ECharts
        # from the table under it (the same numbers, for screen readers)
        expect(registrar.locator("#enrolled-table")).to_contain_text("六年级")
        grades = registrar.locator("#enrolled-table tbody tr").count()
        expect(registrar.locator("#enrolled-chart")).to_have_attribute("data-drawn", str(grades))
        expect(registrar.locator("#enrolled-chart svg")).to_be_visible()
        registrar.locator("#enrolled-h").scroll_into_view_if_needed()
        screenshot(registrar, "home-chart")
        violations = serious_violations(registrar)
        assert violations == [], f"home page: {describe(violations)}"

        registrar.get_by_role("link", name="毕业名单").click()
        heading = registrar.get_by_role("heading", level=2, name="六年级在读学生（3）")
        expect(heading).to_be_visible()
        registrar.get_by_label(f"{second}的证书类别").select_option("completed")
        screenshot(registrar, "graduation-list")
        violations = serious_violations(registrar)
        assert violations == [], f"graduating list: {describe(violations)}"
        registrar.get_by_role("button", name="确认并报送毕业名单").click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("2027 届毕业名单")
        expect(registrar.locator("#graduation-status")).to_contain_text("审核中")
        batch_url = registrar.url

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        decide_task(officer, console.url, "毕业审核")

        registrar.goto(batch_url)
        status = registrar.locator("#graduation-status")
        expect(status).to_contain_text("已审核", timeout=45_000)
        expect(status.get_by_role("row").filter(has_text=first_number)).to_contain_text("已生效")
        expect(status.get_by_role("row").filter(has_text=second_number)).to_contain_text("结业")
        screenshot(registrar, "graduation-approved")
        registrar.get_by_role("link", name="返回毕业名单").click()
        expect(registrar.get_by_text("毕业年级没有在读学生。")).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_the_roster_is_confirmed_for_the_terms_campaign(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    [(_, absent)] = admit(federation, 1, 1)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    opened = httpx.post(
        api(federation, Tier.NATIONAL, "CN") + "/api/v1/operations/verification-campaigns",
        json={"term": "2026-autumn", "scope": "33"},
        headers=minter.headers("national:CN", Role.OPERATOR),
    )
    assert opened.status_code == 201, opened.text
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        for _ in range(90):  # the campaign reaches the school a moment later
            page.goto(console.url + "/verification")
            if page.get_by_role("heading", name="2026年秋季学期核查").count():
                break
            page.wait_for_timeout(500)
        page.get_by_label("在籍但不在校的学生学籍号（每行一个，没有则留空）").fill(absent)
        screenshot(page, "verification")
        violations = serious_violations(page)
        assert violations == [], f"verification: {describe(violations)}"
        page.get_by_role("button", name="确认名册").click()
        expect(page.get_by_role("status")).to_contain_text("已确认本学期学籍名册")
        expect(page.locator(".ok")).to_contain_text("不在校 1 人")


def test_an_export_is_asked_for_approved_and_downloaded(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    admit(federation, 1, 1)
    base = api(federation, Tier.SCHOOL, SCHOOL)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="数据导出").click()
        page.get_by_label("姓名").check()
        page.get_by_label("年级").check()
        page.get_by_label("导出用途").fill("核对本学期各班学生名单")
        page.get_by_role("button", name="提交导出申请").click()
        expect(page.get_by_role("status")).to_have_text("导出申请已提交，等待学籍主管部门审批。")
        row = page.locator("#exports tbody tr").filter(has_text="核对本学期各班学生名单")
        expect(row).to_contain_text("待审批")

        # the county's approver decides (the officer's pages are another issue's): the
        # export's task stays at the school's service, listed for the county there
        approver = minter.headers(f"county:{COUNTY}", Role.APPROVER, username="officer.li")
        listed = httpx.get(
            base + "/api/v1/approvals",
            params={"unit": f"county:{COUNTY}", "status": "open"},
            headers=approver,
        )
        assert listed.status_code == 200, listed.text
        [task] = listed.json()["items"]
        decided = httpx.post(
            base + f"/api/v1/tasks/{task['task_id']}/decision",
            json={"decision": "approve"},
            headers=approver,
        )
        assert decided.status_code == 200, decided.text

        page.reload()
        expect(row).to_contain_text("已批准")
        screenshot(page, "exports")
        violations = serious_violations(page)
        assert violations == [], f"exports: {describe(violations)}"
        with page.expect_download() as download:
            row.get_by_role("link", name="下载 CSV").click()
        content = download.value.path().read_text(encoding="utf-8-sig")
        header = content.splitlines()[0]
        assert "name" in header and "grade" in header and "id_number" not in header
        assert len(content.splitlines()) > 1


def test_a_placement_names_the_attending_school_and_the_county_approves(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    """异校就读 (N2013 art. 17, ZJ art. 13): the form asks for the school the student attends
    and the kind of placement; the registration stays here once the county approves."""
    [(_, number)] = admit(federation, 1, 1)
    with context(browser, bypass_csp=True) as registrar_ctx, context(browser) as officer_ctx:
        registrar = registrar_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.goto(f"{console.url}/status-changes/new?change=place&student_number={number}")
        expect(registrar.get_by_role("heading", level=1)).to_have_text(
            "学籍变动申请：异校就读（保留学籍）"
        )
        registrar.get_by_label("生效日期").fill("2026-09-04")
        registrar.get_by_label("申请理由").fill("经评估随班就读，监护人与两校协商一致。")
        # without the attending school the console asks for it before the API is asked
        registrar.locator("#status-change-form").evaluate("f => f.noValidate = true")
        registrar.get_by_role("button", name="提交申请").click()
        expect(registrar.locator("#attending_school-error")).to_be_visible()
        violations = serious_violations(registrar)
        assert violations == [], f"placement form: {describe(violations)}"
        registrar.get_by_label("就读学校代码").fill("3301060001")
        registrar.get_by_label("安置类别").select_option("inclusive")
        registrar.get_by_role("button", name="提交申请").click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text(
            "学籍变动：异校就读（保留学籍）"
        )
        expect(registrar.locator("#status-change-status")).to_contain_text("已报送")
        change_url = registrar.url

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        decide_task(officer, console.url, "学籍变动")

        registrar.goto(change_url)
        expect(registrar.locator("#status-change-status")).to_contain_text("已生效", timeout=45_000)
        expect(registrar.locator("#status-change-status")).to_contain_text("学籍状态：在读")
