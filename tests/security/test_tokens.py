"""Token verification with per-instance keys (decision 0027), and the verifier's memory of the
tokens it verified. Keys are generated for the repository's federation as ``devtools`` does;
no server needed (the services' own use is in test_accounts and test_revocation)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.testing import REPO_CONFIG
from shared.federation.config import load_federation
from shared.messaging.keys import generate_federation_keys, load_trust_file
from shared.security import tokens
from shared.security.principal import Principal, Role
from shared.security.testing import development_issuer, instance_issuer, principal
from shared.security.tokens import (
    InvalidToken,
    TokenIssuer,
    TokenKeys,
    TokenVerifier,
    development_token_entry,
)

FEDERATION = load_federation(REPO_CONFIG)
OFFICER = Principal(
    username="officer", unit_kind="county", unit_code="410102", roles=frozenset({Role.APPROVER})
)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_federation_keys(FEDERATION, directory)
    return directory


@pytest.fixture
def verifier(keys_dir: Path) -> TokenVerifier:
    """What every service of the federation verifies with: the published trust file."""
    return TokenVerifier(TokenKeys.of(load_trust_file(keys_dir / "trusted-keys.toml")))


def issuer_of(keys_dir: Path, unit: str) -> TokenIssuer:
    return instance_issuer(keys_dir, FEDERATION, unit)


def test_a_token_names_its_instance_key_and_is_accepted_for_the_units_it_hosts(
    keys_dir: Path, verifier: TokenVerifier
) -> None:
    county = issuer_of(keys_dir, "county:410102")  # county-41 hosts 410102 and 410105
    token = county.issue(OFFICER, datetime.now(UTC))
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "county-41", "typ": "JWT"}
    assert verifier.verify(token) == OFFICER
    sideways = principal("county:410105", Role.APPROVER, username="wang")
    assert verifier.verify(county.issue(sideways, datetime.now(UTC))) == sideways


def test_an_instance_key_cannot_mint_a_token_for_a_unit_it_does_not_host(
    keys_dir: Path, verifier: TokenVerifier
) -> None:
    """Instance A's genuine key, a well-formed token for a unit of another instance: refused
    at B (issue #21: one leaked instance no longer mints tokens for every unit)."""
    school = issuer_of(keys_dir, "school:4101020001")  # school-41: Henan's schools only
    assert school.key_id == "school-41"
    for foreign in ("school:3301020001", "county:410102", "province:41", "national:CN"):
        forged = school.issue(principal(foreign), datetime.now(UTC))
        with pytest.raises(InvalidToken, match="not hosted by the signer school-41"):
            verifier.verify(forged)
    # the same claims signed by the instance that does host the unit pass
    own = issuer_of(keys_dir, "school:3301020001")
    assert verifier.verify(own.issue(principal("school:3301020001"), datetime.now(UTC)))


def test_a_key_id_that_lies_about_its_instance_fails_the_signature(
    keys_dir: Path, verifier: TokenVerifier
) -> None:
    school = issuer_of(keys_dir, "school:4101020001")
    impostor = TokenIssuer("national", school.private_key)  # kid of national, key of a school
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        verifier.verify(impostor.issue(principal("national:CN"), datetime.now(UTC)))
    stranger = TokenIssuer("school-41", Ed25519PrivateKey.generate())
    with pytest.raises(InvalidToken):
        verifier.verify(stranger.issue(principal("school:4101020001"), datetime.now(UTC)))
    unknown = TokenIssuer("school-99", Ed25519PrivateKey.generate())
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(unknown.issue(principal("school:4101020001"), datetime.now(UTC)))


def test_a_symmetric_or_unsigned_token_is_refused(verifier: TokenVerifier) -> None:
    claims = {"sub": "x", "unit": "national:CN", "roles": ["operator"], "iss": "xueji",
              "aud": "xueji", "iat": int(datetime.now(UTC).timestamp()),
              "exp": int(datetime.now(UTC).timestamp()) + 600}  # fmt: skip
    hs256 = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": "national"})
    with pytest.raises(InvalidToken):
        verifier.verify(hs256)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "national"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}.")


def test_a_token_living_longer_than_the_maximum_is_refused_whoever_signed_it(
    keys_dir: Path, verifier: TokenVerifier
) -> None:
    county = issuer_of(keys_dir, "county:410102")
    now = datetime.now(UTC)
    ten_years = TokenIssuer(county.key_id, county.private_key, ttl=timedelta(days=3650))
    with pytest.raises(InvalidToken, match="lifetime over the maximum"):
        verifier.verify(ten_years.issue(OFFICER, now))
    # the maximum plus the skew passes; a second more does not
    limit = verifier.max_lifetime + verifier.skew
    at_limit = TokenIssuer(county.key_id, county.private_key, ttl=limit)
    assert verifier.verify(at_limit.issue(OFFICER, now)) == OFFICER
    over = TokenIssuer(county.key_id, county.private_key, ttl=limit + timedelta(seconds=1))
    with pytest.raises(InvalidToken, match="lifetime over the maximum"):
        verifier.verify(over.issue(OFFICER, now))
    # back-dated issuance does not help: exp - iat is what counts, and iat in the future fails
    future = county.issue(OFFICER, now + timedelta(hours=1))
    with pytest.raises(InvalidToken):
        verifier.verify(future)


def test_the_development_key_is_trusted_only_where_a_service_adds_it(
    verifier: TokenVerifier,
) -> None:
    minted = development_issuer().issue(principal("school:4101020001"), datetime.now(UTC))
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(minted)  # a federation on real keys
    on_dev = TokenVerifier(TokenKeys([development_token_entry()]))
    assert on_dev.verify(minted).unit == "school:4101020001"


def test_a_token_verifies_to_its_principal_again_and_again_without_decoding(
    keys_dir: Path, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issuer_of(keys_dir, "county:410102").issue(OFFICER, datetime.now(UTC))
    assert verifier.verify(token) == OFFICER
    decodes = 0
    decode = tokens.jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal decodes
        decodes += 1
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    assert [verifier.verify(token) for _ in range(3)] == [OFFICER] * 3
    assert decodes == 0


def test_a_remembered_token_is_refused_once_it_expires_or_is_revoked(keys_dir: Path) -> None:
    now = datetime.now(UTC)
    clock = [now.timestamp()]
    revoked: dict[tuple[str, str], float] = {}
    verifier = TokenVerifier(
        TokenKeys.of(load_trust_file(keys_dir / "trusted-keys.toml")),
        clock=lambda: clock[0],
        revoked=lambda unit, username: revoked.get((unit, username)),
    )
    county = issuer_of(keys_dir, "county:410102")
    token = county.issue(OFFICER, now)
    assert verifier.verify(token) == OFFICER
    revoked[("county:410102", "officer")] = now.timestamp() + 1  # sealed after the login
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(token)
    later = county.issue(OFFICER, now + timedelta(seconds=2))  # logged in again once unsealed
    assert verifier.verify(later) == OFFICER
    clock[0] += 15 * 60 + 3
    with pytest.raises(InvalidToken):
        verifier.verify(later)
    assert later not in verifier._verified  # forgotten: from now on PyJWT's own expiry check


def test_the_memory_is_bounded(
    keys_dir: Path, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "REMEMBERED", 3)
    county = issuer_of(keys_dir, "county:410102")
    now = datetime.now(UTC)
    issued = [
        county.issue(Principal(f"u{i}", "county", "410102", frozenset({Role.APPROVER})), now)
        for i in range(10)
    ]
    for token in issued:
        verifier.verify(token)
    assert len(verifier._verified) <= 3
    assert verifier.verify(issued[0]).username == "u0"  # forgotten, verified again
