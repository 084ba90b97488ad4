"""Decision 0043 in the console: the school edits guardians and address straight into the
archive (kept in section 1), applies for a key-field change with its proof, the county
officer sees the facts and the proof on its desk page and approves; the school's history
list of students who left."""

from __future__ import annotations

import random
import time
from datetime import date
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.testing import Minter
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.ids import fresh_resident_id

SCHOOL, COUNTY = "4101020001", "410102"  # Henan: the county officer approves


def _api(federation: LocalFederation, tier: Tier, code: str) -> tuple[str, dict[str, str]]:
    instance = federation.instance_for_unit(tier, code)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    return f"http://{instance.host}:{instance.port}", minter.headers(f"{tier.value}:{code}")


def registered(federation: LocalFederation, name: str) -> str:
    """A student of SCHOOL registered and approved through the APIs; the student number."""
    school, school_headers = _api(federation, Tier.SCHOOL, SCHOOL)
    county, county_headers = _api(federation, Tier.COUNTY, COUNTY)
    body: dict[str, Any] = {
        "name": name,
        "gender": "female",
        "birth_date": "2019-04-05",
        "id_type": "resident_id",
        "id_number": fresh_resident_id(random.Random(), COUNTY, date(2019, 4, 5), "female"),
        "grade": 1,
        "enrolled_on": "2026-09-01",
        "extended": {
            "guardians": [{"name": "旧监护人", "relation": "父亲", "phone": "13800000000"}],
            "address": "旧址路 1 号",
        },
    }
    sent = httpx.post(
        f"{school}/api/v1/schools/{SCHOOL}/students", json=body, headers=school_headers
    )
    assert sent.status_code == 202, sent.text
    registration = f"{school}/api/v1/registrations/{sent.json()['registration_id']}"
    deadline = time.monotonic() + 90
    while True:
        tasks = httpx.get(
            f"{county}/api/v1/counties/{COUNTY}/tasks",
            params={"status": "open", "kind": "registration_batch", "limit": 200},
            headers=county_headers,
        ).json()["items"]
        for task in (t for t in tasks if t["school_code"] == SCHOOL):
            httpx.post(
                f"{county}/api/v1/tasks/{task['task_id']}/decision",
                json={"decision": "approve"},
                headers=county_headers,
            )
        state = httpx.get(registration, headers=school_headers).json()
        if state["status"] == "approved":
            return str(state["student_number"])
        assert time.monotonic() < deadline, state
        time.sleep(0.5)


def open_key_field_task(page: Page, base: str, student_number: str) -> None:
    for _ in range(60):
        page.goto(base + "/")
        rows = page.get_by_role("row").filter(has_text="关键信息变更")
        links = [rows.nth(i).get_by_role("link").get_attribute("href") for i in range(rows.count())]
        for href in reversed(links):
            page.goto(base + str(href))
            if page.locator("#key-field-change").filter(has_text=student_number).count():
                return
        page.wait_for_timeout(500)
    raise AssertionError(f"no open key-field change of {student_number}")


def test_contacts_edit_and_key_field_change_with_its_approval(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = registered(federation, "赵关键")
    with context(browser, bypass_csp=True) as school_ctx, context(browser) as officer_ctx:
        registrar = school_ctx.new_page()
        log_in_as(registrar, console, federation, "school", SCHOOL)
        registrar.goto(f"{console.url}/students/{number}")

        # non-basic: straight into the archive, kept in its history
        registrar.get_by_text("修改监护人、联系方式和住址").click()
        registrar.get_by_label("现住址").fill("新址路 8 号")
        registrar.get_by_label("监护人姓名").fill("赵母")
        registrar.get_by_label("与学生关系").fill("母亲")
        registrar.get_by_role("button", name="保存修改").click()
        expect(registrar.locator(".flash")).to_contain_text("已更新")
        expect(registrar.get_by_text("新址路 8 号")).to_be_visible()
        expect(registrar.locator(".timeline")).to_contain_text("监护人及联系方式变更")
        screenshot(registrar, "student-contacts")
        violations = serious_violations(registrar)
        assert violations == [], f"student page: {describe(violations)}"

        # a key field: the application with its proof
        registrar.get_by_role("link", name="申请关键信息变更").click()
        registrar.get_by_label("姓名（现为 赵关键）").fill("赵更正")
        registrar.get_by_label("变更原因（必填）").fill("户口本姓名更正")
        proof = b"%PDF-1.4 hukou page"
        registrar.get_by_label("证明材料（必传，不超过 2 MB）").set_input_files(
            files=[{"name": "户口本.pdf", "mimeType": "application/pdf", "buffer": proof}]
        )
        screenshot(registrar, "key-field-change")
        violations = serious_violations(registrar)
        assert violations == [], f"key-field change form: {describe(violations)}"
        registrar.get_by_role("button", name="报送审核").click()
        expect(registrar.locator(".flash")).to_contain_text("已报送")

        officer = officer_ctx.new_page()
        log_in_as(officer, console, federation, "county", COUNTY)
        open_key_field_task(officer, console.url, number)
        facts = officer.locator("#key-field-change")
        expect(facts).to_contain_text("赵更正")
        expect(facts).to_contain_text("户口本姓名更正")
        link = officer.get_by_role("link", name="户籍证明：户口本.pdf")
        href = link.get_attribute("href")
        assert href is not None and officer.request.get(console.url + href).body() == proof
        screenshot(officer, "county-key-field-change")
        officer.get_by_role("button", name="同意").click()
        expect(officer.get_by_role("status")).to_have_text("已办理。")

        # national re-checks and applies: the roster shows the new name
        for _ in range(90):
            registrar.goto(f"{console.url}/students/{number}")
            if registrar.get_by_role("heading", level=1).inner_text().startswith("赵更正"):
                break
            registrar.wait_for_timeout(500)
        expect(registrar.get_by_role("heading", level=1)).to_have_text(f"赵更正 · {number}")
        expect(registrar.locator(".timeline")).to_contain_text("关键信息变更")

        # the history list of students who left
        registrar.goto(console.url + "/students")
        registrar.get_by_role("link", name="离校学生名单").click()
        expect(registrar.get_by_role("heading", level=1)).to_have_text("离校学生名单")
        expect(registrar.get_by_role("status")).to_contain_text("名学生")
        screenshot(registrar, "departures")
        violations = serious_violations(registrar)
        assert violations == [], f"departures: {describe(violations)}"
