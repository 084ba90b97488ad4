"""``xueji-ops transfer show`` and ``transfer overdue`` against a real national service over
HTTP (uvicorn on a free port; its database filled by the national handlers)."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn

from devtools.broker import free_port
from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from services.national.config import NationalSettings
from shared.db.engine import make_engine, make_session_factory
from shared.ops.cli import main
from shared.ops.federation import OpsError, RunningFederation
from shared.ops.transfers import national_url
from shared.security.principal import Role
from shared.security.testing import token_for
from tests.databases import migrate_to_head
from tests.services.national.builders import NationalDriver, enrol, transfer_request


@dataclass
class National:
    url: str
    driver: NationalDriver


@pytest.fixture
async def national(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[National]:
    monkeypatch.setenv("XUEJI_TOKEN", token_for("national:CN", Role.AUDITOR))
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'national.sqlite'}"
    await asyncio.to_thread(migrate_to_head, "national", database_url)
    config = federation_copy(tmp_path / "config")
    settings = NationalSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=database_url,
        today=date(2026, 9, 7),
        deadline_sweep_interval=0,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "national did not start"
            await asyncio.sleep(0.05)
        yield National(f"http://127.0.0.1:{port}", NationalDriver(make_session_factory(engine)))
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        await engine.dispose()


async def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), out)
    return code, out.getvalue()


async def test_show_prints_the_transfer_its_steps_and_what_it_waits_for(national: National) -> None:
    number = await enrol(national.driver)
    request = transfer_request(number)
    [opened] = await national.driver.request(request)
    await national.driver.decide(opened, reason="无处分记录")

    code, printed = await run(
        "transfer", "show", str(request.transfer_id), "--national-url", national.url
    )

    assert code == 0, printed
    lines = printed.splitlines()
    assert lines[0] == f"transfer {request.transfer_id}  in_progress"
    assert f"student  {number}  grade 1  class 三年级二班" in lines
    assert "waiting for receiving_authority county:410105 until 2026-09-20" in lines
    header = next(line for line in lines if line.startswith("SEQ"))
    assert header.split() == [
        "SEQ", "ROLE", "PARTY", "STATE", "OPENED", "DUE", "DECIDED", "BY", "UNIT", "AT", "NOTE",
    ]  # fmt: skip
    first = lines[lines.index(header) + 1].split()
    assert first[:7] == [
        "1", "sending_province", "province:41", "approved", "2026-09-07", "2026-09-20", "王老师",
    ]  # fmt: skip
    assert first[-1] == "无处分记录"
    assert lines[lines.index(header) + 2].split()[3] == "open"

    code, printed = await run("transfer", "show", str(request.transfer_id), "--json",
                              "--national-url", national.url)  # fmt: skip
    assert json.loads(printed)["steps"][0]["decided_unit"] == "province:41"


async def test_overdue_lists_the_late_steps_of_a_party_or_superior(national: National) -> None:
    number = await enrol(national.driver)
    request = transfer_request(number)
    await national.driver.request(request)

    code, printed = await run("transfer", "overdue", "--unit", "national:CN",
                              "--as-of", "2026-09-21", "--national-url", national.url)  # fmt: skip

    assert code == 0, printed
    lines = printed.splitlines()
    assert lines[0] == "1 overdue step(s) for national:CN on 2026-09-21"
    assert lines[2].split()[:5] == [
        str(request.transfer_id), "sending_province", "province:41", "national:CN", "2026-09-20",
    ]  # fmt: skip
    code, printed = await run("transfer", "overdue", "--unit", "county:410102",
                              "--national-url", national.url)  # fmt: skip
    assert printed.splitlines() == ["0 overdue step(s) for county:410102 on 2026-09-07"]


async def test_errors_are_the_operators_to_fix(
    national: National, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "6f1d7c9a-0000-4000-8000-000000000000"
    code, _ = await run("transfer", "show", missing, "--national-url", national.url)
    assert code == 2
    assert capsys.readouterr().err == f"xueji-ops: national answered 404: no transfer {missing}\n"
    code, _ = await run("transfer", "overdue", "--unit", "410102", "--national-url", national.url)
    assert code == 2 and "national answered 422" in capsys.readouterr().err
    code, _ = await run("transfer", "show", missing, "--national-url", national.url, "--token", "x")
    assert code == 2 and "national answered 401" in capsys.readouterr().err


def test_the_national_url_comes_from_federation_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XUEJI_NATIONAL_URL", raising=False)
    path = tmp_path / "federation.json"
    path.write_text(json.dumps({"instances": [
        {"name": "school-41", "tier": "school", "base_url": "http://127.0.0.1:8241"},
        {"name": "national", "tier": "national", "base_url": "http://127.0.0.1:8000/"},
    ]}))  # fmt: skip
    fed = RunningFederation.load(path)
    assert national_url(fed, None) == "http://127.0.0.1:8000"
    assert national_url(fed, "http://elsewhere:9000") == "http://elsewhere:9000"
    with pytest.raises(OpsError, match="pass --national-url"):
        national_url(RunningFederation.load(tmp_path / "none.json"), None)
