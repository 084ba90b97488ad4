"""The county's operator merges or closes a school of the county (N2013 art. 9; decision 0043),
on SQLite and PostgreSQL: one ``school.merged`` to national naming the operator, the refusals
at the county, and the report adding up national's batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from shared.contracts.decider import Decider
from shared.contracts.merger import RefusedStudent, SchoolMergedApplied
from shared.federation.config import NATIONAL, Tier
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.principal import Role
from shared.security.testing import FreshAuthHeaders, auth_headers
from tests.components.approval_desk.support import deliver, migrate, settings_for, staged, unit

ZHONGYUAN = unit(Tier.COUNTY, "410102")
CLOSING, RECEIVING = "4101020001", "4101020003"
PATH = "/api/v1/counties/410102/school-mergers"
OPERATOR = FreshAuthHeaders("county:410102", Role.OPERATOR, username="zhao.yunwei")


@pytest.fixture
async def county(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    await migrate("county", database_url)
    config = federation_copy(tmp_path / "federation")
    app = build_app(settings_for(config, "county-41", database_url, DEFAULT_AMQP_URL))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://county"
        ) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


def body(**changes: str) -> dict[str, str]:
    return {
        "from_school": CLOSING,
        "to_school": RECEIVING,
        "kind": "closed",
        "closed_on": "2026-09-07",
    } | changes


async def test_one_message_to_national_and_the_report_adds_up_the_batches(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    posted = await client.post(PATH, json=body(), headers=OPERATOR)
    assert posted.status_code == 202, posted.text
    merger_id = posted.json()["merger_id"]
    [sent] = await staged(runtime, "school.merged")
    assert (str(sent.source), str(sent.target)) == ("county:410102", "national:CN")
    assert sent.payload["decider"] == {
        "account": "zhao.yunwei",
        "unit": "county:410102",
        "rule": None,
    }
    assert (sent.payload["from_school"], sent.payload["kind"]) == (CLOSING, "closed")

    for number in (1, 2):  # two batches from national, one refusal in the second
        refused = (
            (
                RefusedStudent(
                    student_number="G" + "4" * 18, rule="school_merger_held", article="N2013 art. 9"
                ),
            )
            if number == 2
            else ()
        )
        applied = SchoolMergedApplied(
            merger_id=uuid.UUID(merger_id),
            from_school=CLOSING,
            to_school=RECEIVING,
            kind="closed",
            closed_on=date(2026, 9, 7),
            applied_at=datetime.now(UTC),
            decider=Decider(account="zhao.yunwei", unit="county:410102"),
            batch=number,
            batches=2,
            refused=refused,
        )
        await deliver(runtime, applied, source=NATIONAL, target=ZHONGYUAN)
        report = (await client.get(f"{PATH}/{merger_id}", headers=OPERATOR)).json()
        assert report["status"] == ("applied" if number == 2 else "requested")
    assert (report["moved"], report["refused"]) == (0, 1)
    assert report["refusals"][0]["rule"] == "school_merger_held"
    listed = await client.get(PATH, headers=OPERATOR)
    assert [m["merger_id"] for m in listed.json()["items"]] == [merger_id]

    again = await client.post(PATH, json=body(), headers=OPERATOR)
    assert (again.status_code, again.json()["code"]) == (409, "school_closed")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"from_school": "4101050001"}, "school_not_in_county"),  # Jinshui's school
        ({"from_school": "4100000001"}, "school_not_in_county"),  # the province runs it
        ({"to_school": "3301020001"}, "merger_other_province"),
        ({"to_school": CLOSING}, "merger_same_school"),
        ({"to_school": "4101029999"}, "merger_unknown_school"),
    ],
)
async def test_refused_at_the_county(
    county: tuple[ServiceRuntime, httpx.AsyncClient], changes: dict[str, str], code: str
) -> None:
    runtime, client = county
    refused = await client.post(PATH, json=body(**changes), headers=OPERATOR)
    assert (refused.status_code, refused.json()["code"]) == (422, code), refused.text
    assert await staged(runtime, "school.merged") == []


async def test_only_the_countys_operator_merges(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    _, client = county
    approver = auth_headers("county:410102", Role.APPROVER)
    assert (await client.post(PATH, json=body(), headers=approver)).status_code == 403
    other = auth_headers("county:410105", Role.OPERATOR)
    assert (await client.post(PATH, json=body(), headers=other)).status_code == 404
