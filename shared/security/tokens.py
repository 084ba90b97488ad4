"""Access tokens: short-lived JWTs (HS256) every service verifies locally, without a database.

The token names the account, its unit and its roles. A sealed or locked account gets no new
token; one already issued stays valid until it expires (``XUEJI_TOKEN_TTL_SECONDS``, 15
minutes by default), which is what keeps a request free of account lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from shared.security.principal import Principal, Role

ALGORITHM = "HS256"
ISSUER = "xueji"
AUDIENCE = "xueji"
_TIERS = frozenset({"school", "county", "province", "national"})


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not ours."""


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    ttl: timedelta = timedelta(minutes=15)

    def issue(self, principal: Principal, now: datetime) -> str:
        claims = {
            "sub": principal.username,
            "unit": principal.unit,
            "roles": sorted(principal.roles),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            kind, _, code = str(claims["unit"]).partition(":")
            roles = frozenset(Role(role) for role in claims["roles"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if kind not in _TIERS or not code or not roles:
            raise InvalidToken("bad unit or roles")
        return Principal(username=str(claims["sub"]), unit_kind=kind, unit_code=code, roles=roles)
