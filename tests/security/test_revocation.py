"""A sealed account's tokens are refused everywhere within the revocation round, not when they
expire (decision 0027): the hosting instance publishes, every instance listens on the real
broker, and an instance started afterwards still learns it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devtools.testing import REPO_CONFIG, federation_copy
from shared.federation.config import UnitRef, load_federation
from shared.messaging.keys import development_keys
from shared.security import accounts
from shared.security.principal import Role
from shared.security.revocation import decode, encode
from shared.security.testing import auth_headers
from shared.security.tokens import InvalidToken
from tests.security.running import Running
from tests.security.running import running as start
from tests.security.support import school_instance
from tests.shared.messaging.harness import eventually

SQLITE = "sqlite+aiosqlite:///"
FORM = {"password": "correct horse battery"}
ROUND = 0.1  # seconds between an instance's revocation rounds (10 s in production)
# Any route behind authentication: a valid token gets past it (404/403), a refused one 401.
SCHOOL_ROUTE = "/api/v1/schools/4101020001/students"
COUNTY_ROUTE = "/api/v1/tasks/00000000-0000-0000-0000-000000000000"


def running(
    tier: str, config: Path, base: str, database_url: str, amqp_url: str
) -> AbstractAsyncContextManager[Running]:
    return start(tier, config, base, database_url, amqp_url, token_revocation_interval=ROUND)


async def test_a_sealed_accounts_token_is_refused_at_another_instance_within_a_round(
    tmp_path: Path, database_url: str, amqp_url: str
) -> None:
    config = federation_copy(tmp_path / "federation")
    async with AsyncExitStack() as stack:
        school_instance = await stack.enter_async_context(
            running("school", config, "school-41", database_url, amqp_url)
        )
        county = (
            await stack.enter_async_context(
                running(
                    "county", config, "county-41", f"sqlite+aiosqlite:///{tmp_path}/c.db", amqp_url
                )
            )
        ).client
        school, runtime = school_instance.client, school_instance.runtime
        now = datetime.now(UTC)
        async with runtime.sessions() as session:
            for username in ("li.registrar", "wang.registrar"):
                await accounts.create_account(
                    session,
                    accounts.NewAccount(
                        username=username,
                        unit=UnitRef.parse("school:4101020001"),
                        roles=frozenset({Role.REGISTRAR}),
                        password="correct horse battery",
                        must_change_password=False,
                    ),
                    now,
                )
            await session.commit()

        async def login(username: str) -> dict[str, str]:
            answer = await school.post("/api/v1/auth/token", data=FORM | {"username": username})
            assert answer.status_code == 200, answer.text
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}

        li, wang = await login("li.registrar"), await login("wang.registrar")
        for client, route in ((school, SCHOOL_ROUTE), (county, COUNTY_ROUTE)):
            for token in (li, wang):  # issued by school-41, accepted at county-41 too
                assert (await client.get(route, headers=token)).status_code != 401

        # li's registry authority seals the account: at the instance holding it (school-41);
        # the county instance, where li's token is also used, hears of it through the broker
        operator = auth_headers("county:410102", Role.OPERATOR, username="zhang.operator")
        sealed = await school.post(
            "/api/v1/auth/accounts/li.registrar/seal", json={"reason": "调离"}, headers=operator
        )
        assert sealed.status_code == 200, sealed.text
        assert sealed.json()["sealed_reason"] == "sealed by zhang.operator: 调离"
        again = await school.post("/api/v1/auth/token", data=FORM | {"username": "li.registrar"})
        assert (again.status_code, again.json()["rule"]) == (403, "account_sealed")

        def refused(client: httpx.AsyncClient, route: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                answer = await client.get(route, headers=li)
                return answer.status_code == 401 and answer.json()["rule"] == "invalid_token"

            return check

        await eventually(refused(county, COUNTY_ROUTE), timeout=30)
        await eventually(refused(school, SCHOOL_ROUTE), timeout=30)
        # the other account's token, issued by the same instance, still works
        assert (await county.get(COUNTY_ROUTE, headers=wang)).status_code != 401

        # an instance that starts now reads the last quarter-hour of revocations from the
        # stream before its first request
        late = (
            await stack.enter_async_context(
                running(
                    "county", config, "county-41", f"sqlite+aiosqlite:///{tmp_path}/l.db", amqp_url
                )
            )
        ).client
        await eventually(refused(late, COUNTY_ROUTE), timeout=30)
        assert (await late.get(COUNTY_ROUTE, headers=wang)).status_code != 401


def test_an_instance_may_revoke_only_the_accounts_of_units_it_hosts() -> None:
    federation = load_federation(REPO_CONFIG)
    signer, trust = development_keys(federation, "school-41")
    at = datetime.now(UTC).timestamp()
    body, header = encode(
        signer,
        "school-41",
        [("school:4101020001", "li", at), ("national:CN", "minister", at),
         ("school:3301020001", "zhou", at)],
    )  # fmt: skip
    assert decode(trust, body, header) == [("school:4101020001", "li", at)]
    with pytest.raises(ValueError, match="bad signature"):
        decode(trust, body.replace(b'"li"', b'"lu"'), header)
    stranger, _ = development_keys(federation, "county-41")
    _, foreign_header = encode(stranger, "county-41", [("school:4101020001", "li", at)])
    with pytest.raises(ValueError, match="bad signature"):
        decode(trust, body, foreign_header)


async def test_sealing_a_dormant_account_revokes_its_tokens_too(
    tmp_path: Path, database_url: str
) -> None:
    """Dormancy seals in one statement (no broker here: the instance's own verifier learns it
    in the round that publishes it)."""
    async with school_instance(tmp_path, database_url) as school:
        await school.create("li.registrar", "school:4101020001", Role.REGISTRAR)
        login = await school.login("li.registrar")
        token = login.json()["access_token"]
        assert school.runtime.tokens.verify(token).username == "li.registrar"
        school.runtime.settings.password_max_age_days = 400
        school.clock.advance(days=184)
        listed = await school.client.get(
            "/api/v1/auth/accounts",
            params={"unit": "school:4101020001"},
            headers=auth_headers("county:410102", Role.OPERATOR),
        )
        assert listed.json()["items"][0]["sealed_at"] is not None
        with pytest.raises(RuntimeError, match="not connected"):
            await school.runtime.revocation_broadcast.publish()
        with pytest.raises(InvalidToken, match="revoked"):
            school.runtime.tokens.verify(token)
