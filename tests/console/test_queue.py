"""An officer's approval queue in the console: a county officer clears twenty registrations
at once (the queue refreshing itself through the desk's long poll when one more arrives), a
school's late transfer step reaches its county, whose officer decides it on the school's
behalf (an intervention, HA art. 11(三)), and an officer of another county cannot open a
county's task by its URL."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any

from playwright.sync_api import Browser, Page, expect

from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from shared.clock import Clock
from tests.console.conftest import QUEUE_SCHOOL
from tests.console.support import context, describe, log_in_as, screenshot, serious_violations
from tests.console.test_transfers import RECEIVING, SENDING, SENDING_COUNTY, Api, enrolled
from tests.integration.registration_support import student

SCHOOL = QUEUE_SCHOOL["code"]
SCHOOL_NAME = QUEUE_SCHOOL["name"]
COUNTY, OTHER_COUNTY = "410102", "410105"  # both hosted by county-41


def one_page_pdf() -> bytes:
    """A valid one-page PDF (a line of text), as a scanned form would be: Chromium shows it."""
    stream = b"BT /F1 24 Tf 72 720 Td (Transfer application form) Tj ET"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def register(api: Api, school: str, count: int) -> list[str]:
    """``count`` first-graders submitted at ``school``; their names."""
    names = []
    for _ in range(count):
        body = student(school)
        answer = api.call("POST", "school", school, f"/api/v1/schools/{school}/students", json=body)
        assert answer.status_code == 202, answer.text
        names.append(body["name"])
    return names


def open_tasks(api: Api, county: str, school: str, kind: str) -> list[dict[str, Any]]:
    path = f"/api/v1/counties/{county}/tasks"
    params = {"status": "open", "kind": kind, "school": school, "limit": 200}
    answer = api.call("GET", "county", county, path, params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def wait_for_tasks(api: Api, county: str, school: str, kind: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 90
    while True:
        found = open_tasks(api, county, school, kind)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} {kind} tasks arrived"
        time.sleep(0.5)


def accessible(page: Page, what: str) -> None:
    violations = serious_violations(page)
    assert violations == [], f"{what}: {describe(violations)}"


def test_a_county_officer_bulk_approves_twenty_registrations(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    api = Api(federation)
    register(api, SCHOOL, 19)
    wait_for_tasks(api, COUNTY, SCHOOL, "registration_batch", 19)
    with context(browser, bypass_csp=True) as ctx:  # axe is injected as a script tag
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        # the queue of one school and kind, from the filter form
        page.get_by_label("事项类型").select_option("registration_batch")
        page.get_by_label("学校代码").fill(SCHOOL)
        page.get_by_role("button", name="筛选").click()
        rows = page.locator("#queue tbody tr")
        expect(rows).to_have_count(19)
        expect(rows.filter(has_text=SCHOOL_NAME)).to_have_count(19)
        # one more arrives while the officer looks: the queue shows it without a reload
        [latest] = register(api, SCHOOL, 1)
        expect(rows).to_have_count(20, timeout=45_000)
        opened = page.url
        # each task opens with its registrations' facts and the common reasons to reject
        page.get_by_role("link", name="审核").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(SCHOOL_NAME)
        expect(page.locator("#reason-list option").first).to_have_attribute(
            "value", "学生身份证件信息与户籍信息不符"
        )
        accessible(page, "registration task")
        page.goto(opened)
        accessible(page, "queue")
        screenshot(page, "authority-queue")
        for i in range(20):
            rows.nth(i).get_by_role("checkbox").check()
        page.get_by_role("button", name="批量同意所选事项").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("批量审核结果", timeout=30_000)
        expect(page.get_by_role("status")).to_have_text("已同意 20 项。")
        outcomes = page.locator("tbody tr")
        expect(outcomes).to_have_count(20)
        expect(outcomes.filter(has_text="已同意")).to_have_count(20)
        expect(outcomes.first).to_contain_text(f"学籍建立 · {SCHOOL_NAME}")
        accessible(page, "bulk outcome")
        screenshot(page, "authority-bulk-outcome")
        page.goto(opened)
        expect(page.get_by_text("没有待审核的事项。")).to_be_visible()
    assert open_tasks(api, COUNTY, SCHOOL, "registration_batch") == []
    # the last one too is registered: the school's roster finds the student
    roster = api.call(
        "GET", "school", SCHOOL, f"/api/v1/schools/{SCHOOL}/students", params={"q": latest}
    )
    deadline = time.monotonic() + 60
    while roster.json()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        roster = api.call(
            "GET", "school", SCHOOL, f"/api/v1/schools/{SCHOOL}/students", params={"q": latest}
        )
    assert roster.json()["total"] == 1, roster.text


def test_an_overdue_step_reaches_the_superior_who_intervenes(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    number = enrolled(federation, SENDING, SENDING_COUNTY, "孙晓雨")
    api = Api(federation)
    started = api.call(
        "POST",
        "school",
        RECEIVING,
        f"/api/v1/schools/{RECEIVING}/transfers-in",
        json={
            "student_number": number,
            "from_school": SENDING,
            "grade": 1,
            "reason": "随父母迁居成都",
            "proofs": [
                {
                    "kind": "application_form",
                    "filename": "转学申请表.pdf",
                    "content_base64": base64.b64encode(one_page_pdf()).decode(),
                }
            ],
        },
    )
    assert started.status_code == 202, started.text
    # the sending school lets its step pass due: national's sweep, on a later day (the
    # injected clock), reports it to the school's county
    later = (Clock().today() + timedelta(days=60)).isoformat()
    deadline = time.monotonic() + 60
    while True:
        swept = api.call(
            "POST", "national", "CN", "/api/v1/operations/deadline-sweep", json={"as_of": later}
        )
        assert swept.status_code == 200, swept.text
        interventions = [
            t
            for t in open_tasks(api, SENDING_COUNTY, SENDING, "transfer_intervention")
            if t["transfer_id"]
        ]
        mine = [t for t in interventions if _student_number(api, t) == number]
        if mine:
            break
        assert time.monotonic() < deadline, "no intervention task at the county"
        time.sleep(1)
    [task] = mine
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", SENDING_COUNTY)
        page.get_by_role("link", name="强制干预", exact=True).click()
        row = page.locator("#queue tbody tr").filter(
            has=page.locator(f"a[href='/authority/tasks/{task['task_id']}']")
        )
        expect(row).to_contain_text("转学强制干预")
        expect(row).to_contain_text("下级逾期")
        screenshot(page, "authority-interventions")
        row.get_by_role("link", name="审核").click()
        intervention = page.locator("section.intervention")
        expect(intervention).to_contain_text("西昌")  # the late school, by name
        expect(intervention).to_contain_text("代为办理")
        expect(page.get_by_text(number)).to_be_visible()
        # the family's proof, shown in the page through the console when the officer asks
        page.get_by_role("button", name="在页面中查看").click()
        frame = page.locator("iframe.proof-view")
        expect(frame).to_have_count(1)
        proof = page.request.get(console.url + str(frame.get_attribute("src")))
        assert proof.status == 200
        assert proof.headers["content-type"] == "application/pdf"
        assert "frame-ancestors 'self'" in proof.headers["content-security-policy"]
        accessible(page, "intervention task")
        page.wait_for_timeout(1000)  # the PDF viewer draws the page
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "authority-intervention")
        page.reload()  # a fresh page: the officer decides
        page.get_by_role("button", name="代为同意").click()
        expect(page.get_by_role("status")).to_have_text("已办理。", timeout=20_000)
        page.goto(f"{console.url}/authority/tasks/{task['task_id']}")
        expect(intervention).to_contain_text("代 ")
        expect(intervention).to_contain_text("办理（强制干预）")
    # national records the step as decided by the county on the school's behalf
    deadline = time.monotonic() + 60
    while True:
        transfer = api.call(
            "GET", "national", "CN", f"/api/v1/transfers/{task['transfer_id']}"
        ).json()
        [step] = [s for s in transfer["steps"] if s["role"] == "sending_school"]
        if step["state"] == "approved":
            break
        assert time.monotonic() < deadline, step
        time.sleep(0.5)
    assert step["intervention"] is True
    assert step["decided_unit"] == f"county:{SENDING_COUNTY}"
    assert step["party_unit"] == f"school:{SENDING}"


def _student_number(api: Api, task: dict[str, Any]) -> str | None:
    found = api.call("GET", "county", SENDING_COUNTY, f"/api/v1/tasks/{task['task_id']}")
    transfer = found.json().get("transfer") or {}
    return transfer.get("student_number")


def test_an_officer_of_another_county_cannot_open_the_task_by_its_url(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    api = Api(federation)
    register(api, SCHOOL, 1)
    task = wait_for_tasks(api, COUNTY, SCHOOL, "registration_batch", 1)[0]
    with context(browser) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", OTHER_COUNTY)
        for path in (
            f"/authority/tasks/{task['task_id']}",
            f"/authority/tasks/{task['task_id']}/proofs/0?view=1",
            f"/authority/tasks/{task['task_id']}/linked-proofs/0",
        ):
            answer = page.goto(console.url + path)
            assert answer is not None and answer.status == 404, path
            expect(page.get_by_role("heading", level=1)).not_to_contain_text(SCHOOL_NAME)
        # nor decide it, with a valid form of its own session
        page.goto(console.url + "/")
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        refused = page.request.post(
            f"{console.url}/authority/tasks/decisions",
            form={"csrf_token": str(csrf), "task_id": task["task_id"]},
        )
        assert refused.status == 200
        assert "未办理" in refused.text() and "已同意 0 项" in refused.text()
    [still] = [t for t in open_tasks(api, COUNTY, SCHOOL, "registration_batch")]
    assert still["task_id"] == task["task_id"]
    # its own county's officer decides it (no other test finds it open)
    path = f"/api/v1/tasks/{task['task_id']}/decision"
    decided = api.call("POST", "county", COUNTY, path, json={"decision": "approve"})
    assert decided.status_code == 200, decided.text


def test_a_countys_unclaimed_students_and_term_findings_page(
    browser: Browser, console: LocalConsole, federation: LocalFederation
) -> None:
    """The county's page of students who left a school and were not taken back (national's
    list) and of its open term-check findings, each leading to the page that resolves it."""
    with context(browser, bypass_csp=True) as ctx:
        page = ctx.new_page()
        log_in_as(page, console, federation, "county", COUNTY)
        page.get_by_role("link", name="未回流学生").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("未回流学生")
        expect(page.get_by_role("link", name="未回流学生")).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.get_by_role("heading", level=2)).to_contain_text("学籍核查发现的问题")
        accessible(page, "unclaimed")
        screenshot(page, "authority-unclaimed")
    with context(browser) as ctx:  # a school's registrar has no such page
        page = ctx.new_page()
        log_in_as(page, console, federation, "school", SCHOOL)
        answer = page.goto(console.url + "/authority/unclaimed")
        assert answer is not None and answer.status == 404
