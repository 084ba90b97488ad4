"""What a login tells: the failed attempts since the last login, a locked account; and the
user's own address reaching the tier's login throttle through the console, while a spoofed
X-Forwarded-For from a client the tier does not trust is ignored (decision 0032)."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.tables import account, login_throttle
from tests.console.accounts import create_account, database_url
from tests.console.support import context, log_in, screenshot

SCHOOL = "4101050001"  # a school no other console test logs in at


def base(federation: LocalFederation) -> str:
    instance = federation.instance_for_unit(Tier.SCHOOL, SCHOOL)
    return f"http://{instance.host}:{instance.port}"


def ready_account(federation: LocalFederation) -> tuple[str, str]:
    """A registrar account past its first-login password change: (username, password)."""
    username = f"chen.{uuid.uuid4().hex[:6]}"
    first = create_account(federation, f"school:{SCHOOL}", username)
    password = "Xj-" + secrets.token_urlsafe(12)
    changed = httpx.post(
        base(federation) + "/api/v1/auth/password",
        json={"username": username, "password": first, "new_password": password},
    )
    assert changed.status_code == 204, changed.text
    return username, password


def lock(federation: LocalFederation, username: str) -> None:
    """The level above locked the account for an hour."""

    async def run() -> None:
        engine = create_async_engine(database_url(federation, "school", SCHOOL))
        async with engine.begin() as connection:
            await connection.execute(
                update(account)
                .where(account.c.username == username)
                .values(locked_until=datetime.now(UTC) + timedelta(hours=1))
            )
        await engine.dispose()

    with ThreadPoolExecutor(1) as worker:  # Playwright's sync API owns this thread's loop
        worker.submit(asyncio.run, run()).result()


def test_failed_attempts_are_told_at_the_next_login_and_a_locked_account_is_explained(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    username, password = ready_account(federation)
    for _ in range(2):
        wrong = httpx.post(
            base(federation) + "/api/v1/auth/token",
            data={"username": username, "password": "not-the-password"},
        )
        assert wrong.status_code == 401, wrong.text
    locked, locked_password = ready_account(federation)
    lock(federation, locked)
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in(page, console, SCHOOL, username, password)
        expect(page.get_by_role("heading", level=1)).to_have_text("待办事项")
        notice = page.get_by_role("status")
        expect(notice).to_contain_text("您的账号有 2 次登录失败")
        expect(notice).to_contain_text("如非本人操作，请立即修改密码")
        screenshot(page, "login-failed-notice")
        page.get_by_role("button", name="退出").click()

        log_in(page, console, SCHOOL, locked, locked_password)
        expect(page.get_by_role("alert")).to_contain_text("账号已暂时锁定")
        screenshot(page, "login-locked")


def address_failures(federation: LocalFederation) -> dict[str, int]:
    """The school instance's login throttle: failures counted per client address."""

    async def run() -> dict[str, int]:
        engine = create_async_engine(database_url(federation, "school", SCHOOL))
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(login_throttle.c.key, login_throttle.c.failures).where(
                    login_throttle.c.key.like("address:%")
                )
            )
            found = {str(key).removeprefix("address:"): int(n) for key, n in rows.all()}
        await engine.dispose()
        return found

    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, run()).result()


def test_the_throttle_counts_the_users_address_not_the_consoles_nor_a_spoofed_one(
    console: LocalConsole, federation: LocalFederation
) -> None:
    before = address_failures(federation)
    # A client the tier does not trust (127.0.0.2 is not in XUEJI_HTTP_FORWARDED_ALLOW_IPS)
    # names another address each time: the tier counts the client's own address.
    spoofer = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    for attempt in range(3):
        answer = spoofer.post(
            base(federation) + "/api/v1/auth/token",
            data={"username": f"nobody.{uuid.uuid4().hex[:8]}", "password": "x"},
            headers={"X-Forwarded-For": f"10.9.{attempt}.7"},
        )
        assert answer.status_code == 401, answer.text

    # Through the console (a peer the tier trusts), each user is counted at their own
    # address, and a browser's own X-Forwarded-For is not passed on.
    def through_console(address: str) -> tuple[httpx.Client, str]:
        client = httpx.Client(
            transport=httpx.HTTPTransport(local_address=address), base_url=console.url
        )
        form = client.get("/login").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert found, form
        return client, found.group(1)

    def fail(client: httpx.Client, csrf: str, spoofed: str) -> None:
        answer = client.post(
            "/login",
            data={
                "csrf_token": csrf,
                "unit_code": SCHOOL,
                "username": f"nobody.{uuid.uuid4().hex[:8]}",
                "password": "x",
            },
            headers={"X-Forwarded-For": spoofed},
        )
        assert answer.status_code == 422, answer.text
        assert "用户名或密码不正确" in answer.text

    guesser, guesser_csrf = through_console("127.0.0.3")
    for attempt in range(2):
        fail(guesser, guesser_csrf, f"10.8.{attempt}.1")
    colleague, colleague_csrf = through_console("127.0.0.4")
    fail(colleague, colleague_csrf, "10.8.9.1")

    after = address_failures(federation)
    counted = {
        address: n - before.get(address, 0)
        for address, n in after.items()
        if n != before.get(address, 0)
    }
    assert counted == {"127.0.0.2": 3, "127.0.0.3": 2, "127.0.0.4": 1}
