"""Tokens for tests and tools: mint one for a unit and roles, or log in over HTTP.

Minting needs the federation's key (``XUEJI_JWT_SECRET``; the development default unless
given); it is what tests and benchmarks use instead of a password::

    headers = auth_headers("school:4101020001", Role.REGISTRAR)
    await client.post("/api/v1/schools/4101020001/students", json=..., headers=headers)

``login`` goes through ``POST /api/v1/auth/token`` like a user.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta

import httpx

from shared.runtime.settings import DEV_JWT_SECRET
from shared.security.principal import Principal, Role
from shared.security.tokens import TokenCodec

ALL_ROLES = tuple(Role)


def principal(unit: str, *roles: Role, username: str | None = None) -> Principal:
    kind, _, code = unit.partition(":")
    return Principal(
        username=username or f"test-{kind}-{code}",
        unit_kind=kind,
        unit_code=code,
        roles=frozenset(roles or ALL_ROLES),
    )


def token_for(
    unit: str,
    *roles: Role,
    username: str | None = None,
    secret: str = DEV_JWT_SECRET,
    ttl: timedelta = timedelta(hours=2),
) -> str:
    """A bearer token for ``unit`` (``tier:code``) with ``roles`` (all four when none)."""
    codec = TokenCodec(secret, ttl)
    return codec.issue(principal(unit, *roles, username=username), datetime.now(UTC))


def auth_headers(
    unit: str, *roles: Role, username: str | None = None, secret: str = DEV_JWT_SECRET
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(unit, *roles, username=username, secret=secret)}"}


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


_PATH_UNITS = {"schools": "school", "counties": "county", "provinces": "province"}


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


class UnitAuth(httpx.Auth):
    """For tests acting for several units through one client: each request without an
    ``Authorization`` header gets a token (all roles) for the unit its path or query names,
    else for ``default``. Authorization itself is tested by tests/security."""

    def __init__(self, default: str, *, secret: str = DEV_JWT_SECRET) -> None:
        self.default = default
        self.secret = secret
        self._tokens: dict[str, str] = {}

    def token(self, unit: str) -> str:
        if unit not in self._tokens:
            self._tokens[unit] = token_for(unit, secret=self.secret)
        return self._tokens[unit]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "Authorization" not in request.headers:
            unit = unit_of_request(request) or self.default
            request.headers["Authorization"] = f"Bearer {self.token(unit)}"
        yield request
