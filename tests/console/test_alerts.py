"""An early warning reaches the county officer's desk (N2025 art. 23; decision 0047): a school
registers far more students in a week than in the eight before, national's judgement sends the
alert to the school's county, the officer finds it in the queue as 异常预警 with the figures,
and acknowledges it with a note. Then the county's own dashboard shows the figures national
and the province sent the county, and when they are as of."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.clock import CHINA
from shared.federation.config import NATIONAL_CODE, Tier
from shared.security.principal import Role
from shared.security.testing import Minter
from tests.console.conftest import ALERT_SCHOOL
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_admission import intake
from tests.console.test_roster import admitted

SCHOOL = str(ALERT_SCHOOL["code"])
SCHOOL_NAME = str(ALERT_SCHOOL["name"])
COUNTY = "330102"
ADMITTED = 12  # over the floor of ten with no history: an alert


def operate(
    federation: LocalFederation, tier: Tier, code: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    instance = federation.instance_for_unit(tier, code)
    minter = Minter.for_federation(federation.keys_dir, federation.federation)
    answer = httpx.post(
        f"http://{instance.host}:{instance.port}{path}",
        json=body,
        headers=minter.headers(f"{tier.value}:{code}", Role.OPERATOR),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_the_county_acknowledges_an_early_warning_and_reads_its_received_figures(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    data, _ = intake(ADMITTED, {}, school=SCHOOL)
    admitted(federation, data, school=SCHOOL)
    today = datetime.now(CHINA).date()
    monday = today - timedelta(days=today.weekday())
    judged = operate(
        federation, Tier.NATIONAL, NATIONAL_CODE, "/api/v1/operations/statistics/early-warning",
        {"week_start": monday.isoformat()},
    )  # fmt: skip
    [alert] = [a for a in judged["items"] if a["school_code"] == SCHOOL]
    assert (alert["observed"], alert["authority_unit"]) == (ADMITTED, f"county:{COUNTY}")

    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        for _ in range(90):  # the alert reaches the desk a moment after national sent it
            page.goto(console.url + "/?kind=statistics_alert")
            rows = page.get_by_role("row").filter(has_text=SCHOOL_NAME).filter(has_text="异常预警")
            if rows.count():
                break
            page.wait_for_timeout(500)
        expect(rows).to_have_count(1)
        expect(page.get_by_label("事项类型")).to_have_value("statistics_alert")
        rows.first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("异常预警")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("新建学籍异常")
        expect(facts).to_contain_text(f"{monday.isoformat()} 起一周")
        expect(facts).to_contain_text(f"{ADMITTED} 人")
        expect(facts).to_contain_text("0.00 人（标准差 0.00）")
        expect(facts).to_contain_text("N2025 art. 23")
        screenshot(page, "statistics-alert")
        violations = serious_violations(page)
        assert violations == [], describe(violations)
        page.get_by_label("意见（拒绝时必填）").fill("已核实：新校区开学集中报到")
        page.get_by_role("button", name="已核实，确认").click()
        expect(page.get_by_role("status")).to_have_text("已办理。")
        page.goto(console.url + "/?kind=statistics_alert")
        left = page.get_by_role("row").filter(has_text=SCHOOL_NAME).filter(has_text="异常预警")
        expect(left).to_have_count(0)  # off the open queue

        operate(
            federation, Tier.NATIONAL, NATIONAL_CODE, "/api/v1/operations/statistics/publish",
            {"period": today.isoformat()},
        )  # fmt: skip
        operate(
            federation, Tier.PROVINCE, "33",
            "/api/v1/provinces/33/operations/statistics/publish", {"period": today.isoformat()},
        )  # fmt: skip
        for _ in range(90):  # the figures reach the county a moment after they were sent
            page.goto(console.url + "/dashboard")
            row = page.locator(f"#received-table tr[data-school='{SCHOOL}']")
            if row.count() and page.locator("#received-as-of").inner_text().count("截至") == 2:
                break
            page.wait_for_timeout(500)
        expect(row.locator("td[data-received='enrolled']")).to_have_text(str(ADMITTED))
        expect(row.locator("td[data-received='migrant']")).to_have_text("0")
        expect(page.locator("#received-as-of")).to_contain_text("国家学籍系统统计，截至")
        violations = serious_violations(page)
        assert violations == [], describe(violations)
