"""A county reads the term transfer reports of the province-direct and city-run schools
located in it (N2013 art. 18; decision 0034), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy
from services.county.bootstrap import build_app
from shared.contracts.transfer_report import TransferLine, TransferTermReport
from shared.federation.config import NATIONAL, Tier
from shared.messaging.errors import PermanentMessageError
from shared.messaging.signing import SecurityRefusal
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import auth_headers
from tests.components.approval_desk.support import deliver, migrate, settings_for, unit

JINSHUI = unit(Tier.COUNTY, "410105")
PROVINCE_DIRECT = "4100000001"  # 河南省实验中学, located in 410105


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


def report(*arrived: str, school: str = PROVINCE_DIRECT) -> TransferTermReport:
    return TransferTermReport(
        school_code=school,
        term="2027-01-31",
        period_start=date(2026, 7, 16),
        period_end=date(2027, 1, 31),
        transfers_in=tuple(
            TransferLine(
                student_number=n,
                other_school="4101020002",
                grade=7,
                completed_on=date(2026, 10, 10),
            )
            for n in arrived
        ),
    )


async def test_the_county_keeps_one_report_per_school_and_term_and_lists_it(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = county
    await deliver(runtime, report("G410102201103140011"), source=NATIONAL, target=JINSHUI)
    # the same school and term again (a re-run): it replaces the first
    both = report("G410102201103140011", "G410102201103150012")
    await deliver(runtime, both, source=NATIONAL, target=JINSHUI)

    officer = auth_headers("county:410105")
    listed = await client.get("/api/v1/counties/410105/transfer-reports", headers=officer)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["school_code"], item["school_name"], item["authority"]) == (
        PROVINCE_DIRECT,
        "河南省实验中学",
        "province:41",
    )
    assert [line["student_number"] for line in item["transfers_in"]] == [
        "G410102201103140011",
        "G410102201103150012",
    ]
    assert item["transfers_out"] == []
    term = await client.get(
        "/api/v1/counties/410105/transfer-reports?term=2026-07-15", headers=officer
    )
    assert term.json()["items"] == []
    # another county of the same instance reads nothing of it
    other = await client.get(
        "/api/v1/counties/410105/transfer-reports", headers=auth_headers("county:410102")
    )
    assert other.status_code == 404


async def test_only_national_reports_and_only_for_a_school_in_the_county(
    county: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, _ = county
    with pytest.raises(SecurityRefusal, match="sender_not_allowed"):  # the contract's senders
        await deliver(runtime, report(), source=unit(Tier.PROVINCE, "41"), target=JINSHUI)
    with pytest.raises(PermanentMessageError):
        await deliver(runtime, report(school="4101020001"), source=NATIONAL, target=JINSHUI)
