"""Browser steps shared by the console tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from tests.console.conftest import AXE, SCREENSHOTS, VIEWPORT


def context(browser: Browser, *, bypass_csp: bool = False) -> BrowserContext:
    """A fresh browser profile (its own cookies) at the common school PC's screen size."""
    made = browser.new_context(
        viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=bypass_csp
    )
    made.set_default_timeout(20_000)
    return made


def log_in(page: Page, console: LocalConsole, unit: str, username: str, password: str) -> None:
    page.goto(console.url + "/login")
    page.get_by_label("单位代码").fill(unit)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


def log_in_as(
    page: Page, console: LocalConsole, federation: LocalFederation, tier: str, code: str
) -> None:
    username, password = federation.dev_account(tier, code)
    log_in(page, console, code, username, password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("待")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page (WCAG 2.1 A/AA rules)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=1)
