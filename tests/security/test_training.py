"""Trained registrars (N2013 art. 23): an account without a training date reads but neither
registers, decides nor exports where the province's rules say so (default on); the level above
sees its units' accounts with their training and last activity. Through school-41's real app
on SQLite and PostgreSQL, with tokens from its own login."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.rules import rules_path
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.security.support import Instance, school_instance

SCHOOL = "4101020001"
EXPORT = {"population": f"school:{SCHOOL}", "fields": ["name"], "purpose": "体检名单"}


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> Instance:  # type: ignore[misc]
    async with school_instance(tmp_path, database_url) as instance:
        unit = f"school:{SCHOOL}"
        await instance.create("li.new", unit, Role.REGISTRAR, Role.APPROVER, trained_on=None)
        await instance.create("wang.trained", unit, Role.REGISTRAR, full_name="王老师")
        await instance.create("zhao.operator", unit, Role.OPERATOR, trained_on=None)
        await instance.create("chen.elsewhere", "school:4101050001", Role.REGISTRAR)
        yield instance


async def _bearer(school: Instance, username: str) -> dict[str, str]:
    login = await school.login(username)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}", "Accept-Language": "zh-CN"}


async def test_an_untrained_registrar_reads_but_neither_exports_nor_decides(
    school: Instance,
) -> None:
    new = await _bearer(school, "li.new")
    roster = await school.client.get(f"/api/v1/schools/{SCHOOL}/students", headers=new)
    assert roster.status_code == 200
    refused = await school.client.post("/api/v1/exports", json=EXPORT, headers=new)
    assert refused.status_code == 403
    body = refused.json()
    assert (body["code"], body["article"]) == ("account_untrained", "N2013 art. 23")
    assert body["message_zh"].startswith("该账号尚未登记培训日期")
    decided = await school.client.post(
        "/api/v1/tasks/decisions", json={"decisions": []}, headers=new
    )
    assert (decided.status_code, decided.json()["code"]) == (403, "account_untrained")

    trained = await _bearer(school, "wang.trained")
    asked = await school.client.post("/api/v1/exports", json=EXPORT, headers=trained)
    assert asked.status_code == 201, asked.text
    # an operator's work needs no registrar's training
    operator = await _bearer(school, "zhao.operator")
    assert (
        await school.client.post("/api/v1/exports", json=EXPORT, headers=operator)
    ).status_code == 201


async def test_a_province_may_switch_the_rule_off(school: Instance) -> None:
    path = rules_path(school.runtime.settings.federation_config, "41")
    path.write_text(path.read_text() + "\n[accounts]\ntraining_required = false\n")
    new = await _bearer(school, "li.new")
    asked = await school.client.post("/api/v1/exports", json=EXPORT, headers=new)
    assert asked.status_code == 201, asked.text


async def test_the_level_above_sees_its_units_accounts_with_their_training(
    school: Instance,
) -> None:
    await _bearer(school, "wang.trained")  # a login is activity
    county = auth_headers("county:410102", Role.AUDITOR)
    listed = await school.client.get(
        "/api/v1/auth/accounts/below", params={"unit": "county:410102"}, headers=county
    )
    assert listed.status_code == 200, listed.text
    items = {item["username"]: item for item in listed.json()["items"]}
    assert set(items) == {"li.new", "wang.trained", "zhao.operator"}  # not county 410105's
    assert items["li.new"]["trained_on"] is None
    assert items["wang.trained"]["trained_on"] == "2026-08-20"
    assert items["wang.trained"]["full_name"] == "王老师"
    assert items["wang.trained"]["last_active_at"].startswith("2026-03-02")
    assert items["li.new"]["sealed_at"] is None and items["li.new"]["locked_until"] is None
    assert set(items["li.new"]) == {
        "username", "unit", "roles", "full_name", "phone", "trained_on", "last_active_at",
        "sealed_at", "sealed_reason", "locked_until",
    }  # fmt: skip

    province = await school.client.get(
        "/api/v1/auth/accounts/below",
        params={"unit": "province:41"},
        headers=auth_headers("province:41", Role.OPERATOR),
    )
    assert province.json()["items"] == []  # none of province 41's own schools has an account
    foreign = await school.client.get(
        "/api/v1/auth/accounts/below",
        params={"unit": "county:410102"},
        headers=auth_headers("county:410105", Role.AUDITOR),
    )
    assert (foreign.status_code, foreign.json()["rule"]) == (404, "unit_not_visible")
