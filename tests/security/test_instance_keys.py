"""Per-instance token keys at a running service on real key files (decision 0027): a token is
accepted only for the units its signing instance hosts."""

from __future__ import annotations

from pathlib import Path

from devtools.testing import federation_copy, instance_name
from shared.federation.config import load_federation
from shared.messaging.keys import generate_federation_keys, private_key_path
from shared.security.principal import Role
from shared.security.testing import auth_headers, instance_issuer
from tests.security.running import running as start


async def test_an_instance_key_opens_its_own_units_only_at_another_instance(
    tmp_path: Path, database_url: str, amqp_url: str
) -> None:
    """At school-41 on real keys: county-41's key mints for its counties, not for county-33's,
    and the development key (trusted only on development keys) opens nothing."""
    config = federation_copy(tmp_path / "federation")
    federation = load_federation(config)
    keys = tmp_path / "keys"
    trust = generate_federation_keys(federation, keys)
    own_key = private_key_path(keys, instance_name(config, "school-41"))
    accounts_of = ("/api/v1/auth/accounts", {"unit": "school:4101020001"})
    async with start(
        "school", config, "school-41", database_url, amqp_url,
        signing_key_file=own_key, trusted_keys_file=trust,
    ) as school:  # fmt: skip
        county_41 = instance_issuer(keys, federation, "county:410102")
        genuine = auth_headers("county:410102", Role.OPERATOR, issuer=county_41)
        seen = await school.client.get(accounts_of[0], params=accounts_of[1], headers=genuine)
        assert seen.status_code == 200, seen.text
        for unit in ("county:330102", "province:41", "national:CN"):
            forged = auth_headers(unit, Role.OPERATOR, issuer=county_41)  # well formed, signed
            refused = await school.client.get(accounts_of[0], params=accounts_of[1], headers=forged)
            assert (refused.status_code, refused.json()["rule"]) == (401, "invalid_token")
        development = auth_headers("county:410102", Role.OPERATOR)
        refused = await school.client.get(
            accounts_of[0], params=accounts_of[1], headers=development
        )
        assert refused.status_code == 401
