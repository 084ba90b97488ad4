"""Accounts through the real token endpoint: forced rotation, sealing of dormant accounts and
unsealing by the level above, registrars' details for the level above; and production refusing
development secrets. Failed logins and their throttle: test_login_abuse.py. Time moves with
``runtime.clock``, never a sleep."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from shared.runtime.settings import ServiceSettings
from shared.security.principal import Role
from shared.security.tables import account
from shared.security.testing import auth_headers
from tests.security.support import Instance, school_instance

ROSTER = "/api/v1/schools/4101020001/students"


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> Instance:  # type: ignore[misc]
    async with school_instance(tmp_path, database_url) as instance:
        await instance.create("li.registrar", "school:4101020001", Role.REGISTRAR)
        yield instance


async def test_a_login_gives_a_token_that_opens_the_units_own_data(school: Instance) -> None:
    login = await school.login("li.registrar")
    assert login.status_code == 200, login.text
    body = login.json()
    assert (body["token_type"], body["expires_in"]) == ("bearer", 900)
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await school.client.get(ROSTER, headers=bearer)).status_code == 200
    neighbour = await school.client.get("/api/v1/schools/4101020002/students", headers=bearer)
    assert (neighbour.status_code, neighbour.json()["rule"]) == (404, "unit_not_visible")
    anonymous = await school.client.get(ROSTER)
    assert (anonymous.status_code, anonymous.json()["rule"]) == (401, "authentication_required")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    forged = {"Authorization": "Bearer " + body["access_token"][:-2] + "xx"}
    rejected = await school.client.get(ROSTER, headers=forged)
    assert (rejected.status_code, rejected.json()["rule"]) == (401, "invalid_token")
    unknown = await school.login("nobody")
    assert (unknown.status_code, unknown.json()["rule"]) == (401, "invalid_credentials")


async def test_a_password_older_than_the_period_must_be_changed_first(school: Instance) -> None:
    school.clock.advance(days=89)
    assert (await school.login("li.registrar")).status_code == 200
    school.clock.advance(days=1)
    expired = await school.login("li.registrar")
    assert (expired.status_code, expired.json()["rule"]) == (403, "password_expired")

    change = "/api/v1/auth/password"
    old = "correct horse battery"
    weak = await school.client.post(
        change, json={"username": "li.registrar", "password": old, "new_password": "short"}
    )
    assert (weak.status_code, weak.json()["rule"]) == (422, "weak_password")
    same = {"username": "li.registrar", "password": old, "new_password": old}
    assert (await school.client.post(change, json=same)).json()["rule"] == "weak_password"
    wrong = {"username": "li.registrar", "password": "guess", "new_password": "a new long secret"}
    assert (await school.client.post(change, json=wrong)).status_code == 401
    good = {"username": "li.registrar", "password": old, "new_password": "a new long secret"}
    assert (await school.client.post(change, json=good)).status_code == 204

    assert (await school.login("li.registrar")).status_code == 401  # the old one is gone
    assert (await school.login("li.registrar", "a new long secret")).status_code == 200


async def test_an_account_unused_six_months_is_sealed_and_the_level_above_unseals_it(
    school: Instance,
) -> None:
    school.runtime.settings.password_max_age_days = 400  # rotation is another test's
    school.clock.advance(days=182)
    assert (await school.login("li.registrar")).status_code == 200  # used: the count restarts
    school.clock.advance(days=183)
    assert (
        await school.client.get(
            "/api/v1/auth/accounts",
            params={"unit": "school:4101020001"},
            headers=auth_headers("county:410102"),
        )
    ).json()["items"][0]["sealed_at"] is None
    school.clock.advance(minutes=1)  # more than 183 days unused
    sealed = await school.login("li.registrar")
    assert (sealed.status_code, sealed.json().get("rule")) == (403, "account_sealed"), sealed.text

    unseal = "/api/v1/auth/accounts/li.registrar/unseal"
    own = await school.client.post(unseal, headers=auth_headers("school:4101020001"))
    assert own.status_code == 404  # not the school itself
    sideways = await school.client.post(unseal, headers=auth_headers("county:410105"))
    assert sideways.status_code == 404  # not another county
    province = await school.client.post(unseal, headers=auth_headers("province:41"))
    assert province.status_code == 404  # not two levels up
    auditor = await school.client.post(unseal, headers=auth_headers("county:410102", Role.AUDITOR))
    assert (auditor.status_code, auditor.json()["rule"]) == (403, "role_required")
    county = auth_headers("county:410102", Role.OPERATOR, username="zhang.operator")
    opened = await school.client.post(unseal, headers=county)
    assert opened.status_code == 200, opened.text
    assert opened.json()["sealed_at"] is None

    # reopened, it must set a new password before it gets a token
    assert (await school.login("li.registrar")).json()["rule"] == "password_expired"
    change = {
        "username": "li.registrar",
        "password": "correct horse battery",
        "new_password": "spring term 2026!",
    }
    assert (await school.client.post("/api/v1/auth/password", json=change)).status_code == 204
    assert (await school.login("li.registrar", "spring term 2026!")).status_code == 200


async def test_a_locked_account_is_refused_until_its_time_or_the_level_above_reopens_it(
    school: Instance,
) -> None:
    until = school.clock.now() + timedelta(hours=1)
    async with school.runtime.sessions() as session:
        await session.execute(
            update(account).where(account.c.username == "li.registrar").values(locked_until=until)
        )
        await session.commit()
    wrong = await school.login("li.registrar", "a wrong guess")
    assert (wrong.status_code, wrong.json()["rule"]) == (401, "invalid_credentials")  # no oracle
    locked = await school.login("li.registrar")
    assert (locked.status_code, locked.json()["rule"]) == (403, "account_locked"), locked.text
    school.clock.advance(hours=1, minutes=1)
    assert (await school.login("li.registrar")).status_code == 200


async def test_dormant_accounts_are_sealed_before_they_are_listed(school: Instance) -> None:
    school.runtime.settings.password_max_age_days = 400
    await school.create("wang.clerk", "school:4101020001", Role.AUDITOR)
    school.clock.advance(days=100)
    assert (await school.login("wang.clerk")).status_code == 200
    school.clock.advance(days=100)  # li.registrar: 200 days unused; wang.clerk: 100
    listing = await school.client.get(
        "/api/v1/auth/accounts",
        params={"unit": "school:4101020001"},
        headers=auth_headers("county:410102", Role.AUDITOR),
    )
    assert listing.status_code == 200, listing.text
    by_name = {a["username"]: a for a in listing.json()["items"]}
    assert by_name["li.registrar"]["sealed_at"] is not None
    assert by_name["li.registrar"]["sealed_reason"] == "unused for 183 days"
    assert by_name["wang.clerk"]["sealed_at"] is None


async def test_the_level_above_sees_the_registrars_details(school: Instance) -> None:
    await school.create(
        "zhao.registrar",
        "school:4101020002",
        Role.REGISTRAR,
        full_name="赵老师",
        phone="13700000000",
        trained_on=date(2025, 8, 20),
    )
    url, unit = "/api/v1/auth/accounts", {"unit": "school:4101020002"}
    seen = await school.client.get(url, params=unit, headers=auth_headers("county:410102"))
    assert seen.status_code == 200
    [account] = seen.json()["items"]
    assert (account["full_name"], account["trained_on"], account["roles"]) == (
        "赵老师",
        "2025-08-20",
        ["registrar"],
    )
    assert account["password_expires_on"] == "2026-05-31"
    assert "password_hash" not in account
    for foreign in ("school:4101020001", "county:410105", "province:33"):
        refused = await school.client.get(url, params=unit, headers=auth_headers(foreign))
        assert refused.status_code == 404, foreign
    missing = await school.client.get(url, headers=auth_headers("county:410102"))
    assert (missing.status_code, missing.json()["rule"]) == (422, "bad_unit")


async def test_the_level_above_creates_an_account_with_a_password_shown_once(
    school: Instance,
) -> None:
    url = "/api/v1/auth/accounts"
    body = {
        "username": "sun.registrar",
        "unit": "school:4101020001",
        "roles": ["registrar"],
        "full_name": "孙老师",
        "trained_on": "2026-08-20",
    }
    county = auth_headers("county:410102", Role.OPERATOR, username="zhang.operator")
    for refused_by in ("school:4101020001", "county:410105", "province:41"):
        refused = await school.client.post(url, json=body, headers=auth_headers(refused_by))
        assert (refused.status_code, refused.json()["rule"]) == (404, "unit_not_visible")
    untrained = {**body, "trained_on": None}
    refused = await school.client.post(url, json=untrained, headers=county)
    assert (refused.status_code, refused.json()["rule"]) == (422, "training_required")
    assert refused.json()["article"] == "N2013 art. 23"

    created = await school.client.post(url, json=body, headers=county)
    assert created.status_code == 201, created.text
    answer = created.json()
    password = answer["one_time_password"]
    assert (answer["account"]["username"], answer["account"]["trained_on"]) == (
        "sun.registrar",
        "2026-08-20",
    )
    again = await school.client.post(url, json=body, headers=county)
    assert (again.status_code, again.json()["rule"]) == (409, "account_exists")
    listed = await school.client.get(url, params={"unit": "school:4101020001"}, headers=county)
    assert "one_time_password" not in listed.text and password not in listed.text

    # the one-time password logs in only to be replaced
    first = await school.login("sun.registrar", password)
    assert (first.status_code, first.json()["rule"]) == (403, "password_expired")
    new = "autumn 2026 term!"
    change = {"username": "sun.registrar", "password": password, "new_password": new}
    assert (await school.client.post("/api/v1/auth/password", json=change)).status_code == 204
    assert (await school.login("sun.registrar", new)).status_code == 200


def test_production_refuses_seeded_accounts_and_a_missing_or_short_audit_key(
    tmp_path: Path,
) -> None:
    valid = {
        "env": "production",
        "database_url": "postgresql+asyncpg://xueji@db/xueji",
        "amqp_url": "amqp://xueji:s3cret@mq:5672/",
        "audit_key": "k" * 40,
        "signing_key_file": tmp_path / "signing.key",
        "trusted_keys_file": tmp_path / "trusted.json",
    }
    assert ServiceSettings(**valid).env == "production"  # type: ignore[arg-type]
    without_key = {k: v for k, v in valid.items() if k != "audit_key"}
    with pytest.raises(ValidationError, match="production needs XUEJI_AUDIT_KEY"):
        ServiceSettings(**without_key)  # type: ignore[arg-type]
    for override in (
        {"audit_key": "CHANGE-ME"},  # the manifests' placeholder
        {"dev_accounts": tmp_path / "dev-credentials.json"},
        {"token_ttl_seconds": 3600},  # longer than every verifier accepts
    ):
        with pytest.raises(
            ValidationError, match=r"XUEJI_AUDIT_KEY|XUEJI_DEV_ACCOUNTS|XUEJI_TOKEN_TTL_SECONDS"
        ):
            ServiceSettings(**(valid | override))  # type: ignore[arg-type]
    # no shared token secret any more: the setting is gone, not merely unused
    assert "jwt_secret" not in ServiceSettings.model_fields


async def test_an_operator_creates_an_account_with_a_one_time_password(school: Instance) -> None:
    import io

    from devtools.testing import REPO_CONFIG
    from shared.security.__main__ import main

    out = io.StringIO()
    argv = ["create-account", "--database-url", school.runtime.database_url,
            "--config", str(REPO_CONFIG), "--unit", "school:4101020003",
            "--username", "sun.registrar", "--role", "registrar", "--full-name", "孙老师",
            "--trained-on", "2026-02-20"]  # fmt: skip
    assert await asyncio.to_thread(main, argv, out) == 0
    password = out.getvalue().split("one-time password: ")[1].split()[0]
    first = await school.login("sun.registrar", password)
    assert (first.status_code, first.json()["rule"]) == (403, "password_expired")
    change = {"username": "sun.registrar", "password": password, "new_password": "my own secret!"}
    assert (await school.client.post("/api/v1/auth/password", json=change)).status_code == 204
    assert (await school.login("sun.registrar", "my own secret!")).status_code == 200
    assert await asyncio.to_thread(main, argv, io.StringIO()) == 1  # exists already
    unknown = [*argv[:5], "--unit", "school:4101029999", *argv[7:]]
    assert await asyncio.to_thread(main, unknown, io.StringIO()) == 2
