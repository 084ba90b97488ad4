"""打印 on the student page: the registrar downloads the registration proof as a PDF, issued by
the school's API (one A4 page, the student's name and number in it) and verifiable by the code
in its footer."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.components.documents import pdf
from tests.console.support import context, describe, log_in_as, serious_violations
from tests.console.test_admission import intake
from tests.console.test_roster import admitted

SCHOOL = "3301060001"


def test_the_registrar_prints_a_registration_proof(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, names = intake(1, {}, school=SCHOOL)
    admitted(federation, data, SCHOOL)
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        page.get_by_role("link", name="学籍名册").click()
        page.get_by_label("姓名 / 学籍号 / 身份证号").fill(names[0])
        page.get_by_role("button", name="查询").click()
        row = page.locator("tbody tr").filter(has_text=names[0]).first
        number = row.locator("td").first.inner_text()
        page.get_by_role("link", name=number).click()
        expect(page.get_by_role("heading", name="打印")).to_be_visible()
        violations = serious_violations(page)
        assert violations == [], f"student page: {describe(violations)}"

        page.get_by_label("打印文件").select_option("registration-proof")
        page.get_by_label("用途").fill("转学")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="打印（PDF）").click()
        download = downloading.value
        assert download.suggested_filename == f"registration_proof-{number}.pdf"
        document = download.path().read_bytes()

    assert pdf.info(document).pages == 1
    lines = pdf.lines(document)
    assert lines[0] == "学籍证明"
    assert f"学籍号 {number}" in lines
    assert any(names[0] in line for line in lines)
    code = lines[-1].split("验证码：")[1]
    instance = federation.instance_for_unit(Tier.SCHOOL, SCHOOL)
    answer = httpx.get(
        f"http://{instance.host}:{instance.port}/api/v1/documents/verifications/{code}"
    ).json()
    assert (answer["genuine"], answer["status"], answer["issuer"]) == (
        True,
        "valid",
        f"school:{SCHOOL}",
    )


def test_anyone_checks_a_printed_code_without_an_account(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, names = intake(1, {}, school=SCHOOL)
    admitted(federation, data, SCHOOL)
    instance = federation.instance_for_unit(Tier.SCHOOL, SCHOOL)
    base = f"http://{instance.host}:{instance.port}/api/v1/schools/{SCHOOL}"
    headers = Minter.for_federation(federation.keys_dir, federation.federation).headers(
        f"school:{SCHOOL}"
    )
    roster = httpx.get(f"{base}/students", params={"q": names[0]}, headers=headers).json()
    number = roster["items"][0]["student_number"]
    printed = httpx.get(
        f"{base}/students/{number}/documents/registration-proof.pdf", headers=headers, timeout=60
    )
    code = pdf.lines(printed.content)[-1].split("验证码：")[1]
    with context(browser) as ctx:  # a stranger: never logged in
        page = ctx.new_page()
        page.goto(console.url + "/verify")
        page.get_by_label("出具单位代码").fill(SCHOOL)
        page.get_by_label("验证码").fill(code.lower())  # typed as read, in any case
        page.get_by_role("button", name="查验").click()
        expect(page.get_by_role("status")).to_contain_text("真实有效")
        expect(page.get_by_role("status")).to_contain_text("学籍证明")
        expect(page.get_by_role("status")).not_to_contain_text(names[0])  # nothing beyond
        page.get_by_label("验证码").fill("0000-0000-0000-0000")
        page.get_by_role("button", name="查验").click()
        expect(page.get_by_role("status")).to_contain_text("查无此文件")
