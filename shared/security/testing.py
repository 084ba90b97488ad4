"""Tokens for tests and tools: mint one for a unit and roles, or log in over HTTP.

Minting needs a key the verifying service trusts for the unit. Services running on
development keys (no key files: the unit tests) trust the *development token key* for every
unit of their federation, so by default tokens are minted with it::

    headers = auth_headers("school:4101020001", Role.REGISTRAR)
    await client.post("/api/v1/schools/4101020001/students", json=..., headers=headers)

Against services with real keys (a local federation started by ``devtools``), pass the issuer
of the instance hosting the unit: ``issuer=instance_issuer(keys_dir, federation, unit)``.
``login`` goes through ``POST /api/v1/auth/token`` like a user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shared.federation.config import Federation, UnitRef
from shared.messaging.keys import load_private_key, private_key_path
from shared.security.principal import Principal, Role
from shared.security.tokens import (
    DEFAULT_MAX_LIFETIME,
    DEVELOPMENT_KEY_ID,
    TokenIssuer,
    development_token_key,
)

ALL_ROLES = tuple(Role)


def principal(unit: str, *roles: Role, username: str | None = None) -> Principal:
    kind, _, code = unit.partition(":")
    return Principal(
        username=username or f"test-{kind}-{code}",
        unit_kind=kind,
        unit_code=code,
        roles=frozenset(roles or ALL_ROLES),
    )


def development_issuer(ttl: timedelta = DEFAULT_MAX_LIFETIME) -> TokenIssuer:
    """Mints with the development token key (trusted only by services on development keys)."""
    return TokenIssuer(DEVELOPMENT_KEY_ID, development_token_key(), ttl)


def instance_issuer(
    keys_dir: Path, federation: Federation, unit: str, ttl: timedelta = DEFAULT_MAX_LIFETIME
) -> TokenIssuer:
    """Mints as the instance hosting ``unit``, with its key file under ``keys_dir``."""
    instance = federation.instance_hosting(UnitRef.parse(unit))
    if instance is None:
        raise KeyError(f"no instance hosts {unit}")
    key = load_private_key(private_key_path(keys_dir, instance.name))
    return TokenIssuer(instance.name, key, ttl)


def token_for(
    unit: str,
    *roles: Role,
    username: str | None = None,
    issuer: TokenIssuer | None = None,
) -> str:
    """A bearer token for ``unit`` (``tier:code``) with ``roles`` (all four when none)."""
    issuer = issuer or development_issuer()
    return issuer.issue(principal(unit, *roles, username=username), datetime.now(UTC))


def auth_headers(
    unit: str, *roles: Role, username: str | None = None, issuer: TokenIssuer | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(unit, *roles, username=username, issuer=issuer)}"}


class FreshAuthHeaders(Mapping[str, str]):
    """Headers that mint a new token each time they are read: for a test module's constants,
    which would otherwise outlive the tokens' 15-minute lifetime in a long suite."""

    def __init__(self, unit: str, *roles: Role, username: str | None = None) -> None:
        self._unit, self._roles, self._username = unit, roles, username

    def __getitem__(self, key: str) -> str:
        if key != "Authorization":
            raise KeyError(key)
        return f"Bearer {token_for(self._unit, *self._roles, username=self._username)}"

    def __iter__(self) -> Iterator[str]:
        return iter(("Authorization",))

    def __len__(self) -> int:
        return 1


def login(base_url: str, username: str, password: str) -> str:
    """Log in through the token endpoint of the instance hosting the account's unit."""
    response = httpx.post(
        base_url + "/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


_PATH_UNITS = {"schools": "school", "counties": "county", "cities": "city", "provinces": "province"}


def unit_of_request(request: httpx.Request) -> str | None:
    """The unit a request names: ``/api/v1/<schools|counties|provinces>/<code>/…``, or a
    ``unit=tier:code`` / ``school_code=`` query parameter; None when it names none."""
    parts = request.url.path.strip("/").split("/")
    if len(parts) >= 4 and parts[:2] == ["api", "v1"] and parts[2] in _PATH_UNITS:
        return f"{_PATH_UNITS[parts[2]]}:{parts[3]}"
    query = request.url.params
    if "unit" in query and ":" in query["unit"]:
        return query["unit"]
    if "school_code" in query:
        return f"school:{query['school_code']}"
    return None


class Minter:
    """Bearer headers per unit, minted with the issuer of each unit (default: the development
    key) and minted again once half their life has passed (benchmarks outlive a token)."""

    def __init__(self, issuer_for: Callable[[str], TokenIssuer] | None = None) -> None:
        development = development_issuer()
        self.issuer_for = issuer_for or (lambda unit: development)
        self._headers: dict[tuple[str, tuple[Role, ...], str | None], tuple[dict[str, str], float]]
        self._headers = {}

    @classmethod
    def for_federation(cls, keys_dir: Path, federation: Federation) -> Minter:
        """For a federation on real keys (``devtools``): each unit's hosting instance's key."""
        issuers: dict[str, TokenIssuer] = {}

        def issuer_for(unit: str) -> TokenIssuer:
            if unit not in issuers:
                issuers[unit] = instance_issuer(keys_dir, federation, unit)
            return issuers[unit]

        return cls(issuer_for)

    def headers(self, unit: str, *roles: Role, username: str | None = None) -> dict[str, str]:
        key = (unit, roles, username)
        known = self._headers.get(key)
        if known is None or known[1] < time.time():
            issuer = self.issuer_for(unit)
            renew_at = time.time() + issuer.ttl.total_seconds() / 2
            known = (auth_headers(unit, *roles, username=username, issuer=issuer), renew_at)
            self._headers[key] = known
        return known[0]


class UnitAuth(httpx.Auth):
    """For tests acting for several units through one client: each request without an
    ``Authorization`` header gets a token (all roles) for the unit its path or query names,
    else for ``default``, from ``minter`` (development key by default). Authorization itself
    is tested by tests/security."""

    def __init__(self, default: str, *, minter: Minter | None = None) -> None:
        self.default = default
        self.minter = minter or Minter()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "Authorization" not in request.headers:
            unit = unit_of_request(request) or self.default
            request.headers.update(self.minter.headers(unit))
        yield request
