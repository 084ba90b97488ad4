"""Certificates in the console (decision 0037): the registrar issues the graduating class's
certificates as one PDF, the county's officer stamps them (验印) on the register, the
registrar reports one lost and prints its 证明书, prints a dropout report, and a factual
certificate refuses in Chinese where it does not apply — under the CSP, with the forms' CSRF
token, accessible (axe).
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from tests.components.documents import pdf
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_progression import sixth_graders, wait
from tests.console.test_transfers import Api, enrolled

PRIMARY, COUNTY, PROVINCE = "4101020001", "410102", "41"


def archived_graduation(federation: LocalFederation, number: str) -> bool:
    answer = Api(federation).call(
        "GET", "province", PROVINCE, f"/api/v1/provinces/{PROVINCE}/archives/{number}"
    )
    entries: list[dict[str, Any]] = answer.json().get("entries", []) if answer.is_success else []
    return any(entry["kind"] == "graduation" for entry in entries)


def test_certificates_are_issued_stamped_and_a_lost_one_gets_its_statement(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    names = ["沈毕业", "韩结证"]
    numbers = sixth_graders(federation, names, graduate=True)
    dropout = enrolled(federation, PRIMARY, COUNTY, "辍学生")
    reported = Api(federation).call(
        "POST",
        "school",
        PRIMARY,
        f"/api/v1/schools/{PRIMARY}/status-changes",
        json={
            "student_number": dropout,
            "change": "report_dropout",
            "effective_on": "2026-09-01",
            "reason": "连续旷课二十日以上，劝返未果",
            "proofs": [],
        },
    )
    assert reported.status_code == 202, reported.text
    change_id = reported.json()["change_id"]
    for number in numbers:
        wait(lambda n=number: archived_graduation(federation, n), "graduation in the archive")

    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", PRIMARY)
        page.get_by_role("link", name="证书与文件").click()
        expect(page.get_by_role("heading", name="发放毕业证书")).to_be_visible()
        violations = serious_violations(page)
        assert violations == [], f"certificates page: {describe(violations)}"
        screenshot(page, "certificates")
        page.get_by_label("毕业届别（年）").fill("2027")
        with page.expect_download(timeout=300_000) as downloading:
            page.get_by_role("button", name="发放并打印证书").click()
        document = downloading.value.path().read_bytes()

        pages = pdf.text(document).split("\f")
        mine = {n: next(p for p in pages if n in p) for n in numbers}
        auxiliary = {}
        for number, text in mine.items():
            flat = " ".join(text.split())
            assert "浙江省义务教育证书" in flat or "义务教育证书" in flat
            assert "郑州市中原区第一实验小学" in flat
            auxiliary[number] = flat.split("编号（学籍辅号）：")[1].split()[0]
            assert auxiliary[number].startswith(f"{COUNTY}2027")
        assert all(font.embedded for font in pdf.fonts(document))

        # the county's officer stamps them on the register
        officer = ctx.new_page()
        ctx.clear_cookies()
        log_in_as(officer, console, federation, "county", COUNTY)
        officer.get_by_role("link", name="证书验印").click()
        for number in numbers:
            expect(officer.get_by_role("row").filter(has_text=number)).to_be_visible()
        violations = serious_violations(officer)
        assert violations == [], f"register page: {describe(violations)}"
        screenshot(officer, "certificate-register")
        officer.get_by_role("button", name="记录验印").click()
        expect(officer.get_by_role("status")).to_contain_text("已记录验印")
        for number in numbers:
            expect(officer.get_by_role("row").filter(has_text=number)).to_have_count(0)

        # the registrar reports one lost: its 证明书, and the original answers superseded
        ctx.clear_cookies()
        log_in_as(page, console, federation, "school", PRIMARY)
        page.goto(console.url + "/certificates")
        lost = auxiliary[numbers[0]]
        page.get_by_label("原证书编号（学籍辅号）").fill(lost)
        page.get_by_label("申请说明").fill("本人申请：证书遗失")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="开具证明书（PDF）").click()
        statement = downloading.value.path().read_bytes()
        flat = " ".join(pdf.text(statement).split())
        assert "证明书" in flat and f"{lost}-Z1" in flat and numbers[0] in flat

        # a Chinese national gets no factual certificate: the refusal, in Chinese
        page.goto(console.url + "/certificates")
        page.get_by_label("学籍号").fill(numbers[1])
        page.get_by_role("button", name="打印写实性证明（PDF）").click()
        expect(page.locator("main")).to_contain_text("外国学生")

        # the dropout report of a reported dropout, to the township and the county
        page.goto(console.url + "/certificates")
        page.get_by_label("学籍变动编号").fill(change_id)
        with page.expect_download() as downloading:
            page.get_by_role("button", name="打印辍学情况报告（PDF）").click()
        report = downloading.value.path().read_bytes()
        lines = pdf.lines(report)
        assert lines[0] == "义务教育阶段学生辍学情况报告" and pdf.info(report).pages == 1
        assert f"学籍号 {dropout}" in lines
        assert any(line.endswith("人民政府、郑州市中原区教育局：") for line in lines)

    code = [line for line in pdf.lines(mine_page(document, numbers[0])) if "验证码：" in line]
    verification = code[-1].split("验证码：")[-1].strip()
    instance = federation.instance_for_unit(Tier.PROVINCE, PROVINCE)
    answer = httpx.get(
        f"http://{instance.host}:{instance.port}/api/v1/documents/verifications/{verification}"
    ).json()
    assert (answer["genuine"], answer["status"], answer["kind"]) == (
        True,
        "superseded",
        "graduation_certificate",
    )


def mine_page(document: bytes, number: str) -> bytes:
    """The page of ``document`` that names ``number``, as a PDF of its own."""
    import io

    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(document))
    pages = pdf.text(document).split("\f")
    writer = PdfWriter()
    writer.add_page(reader.pages[next(i for i, p in enumerate(pages) if number in p)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
