"""The register of client systems: register, list, revoke, authenticate, count a call.

Every function runs in the session it is given; the request commits (decision 0023).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from components.status_checks.domain import CheckRefused, Purpose, check_purposes

# Verified when the client id is unknown, so that the answer costs the same.
_NO_CLIENT = hashlib.sha256(b"no such client").hexdigest()


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    purposes: dict[str, Purpose]
    rate_per_minute: int
    registered_by: str
    registered_at: datetime
    revoked_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _client(row: Any) -> Client:
    purposes = {
        item["code"]: Purpose(item["code"], tuple(item["claims"]), item["basis"])
        for item in row.purposes
    }
    return Client(
        row.client_id,
        row.name,
        purposes,
        row.rate_per_minute,
        row.registered_by,
        row.registered_at,
        row.revoked_at,
    )


class ClientRegister:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def register(
        self,
        session: AsyncSession,
        client_id: str,
        name: str,
        purposes: list[Purpose],
        rate_per_minute: int,
        by: str,
        now: datetime,
    ) -> tuple[Client, str]:
        """A new client and its secret (returned once, kept only as a digest)."""
        check_purposes(purposes)
        if await self._row(session, client_id) is not None:
            raise CheckRefused(409, "status_client_exists", f"client {client_id} exists", None)
        secret = secrets.token_urlsafe(32)
        await session.execute(
            self.table.insert().values(
                client_id=client_id,
                name=name,
                purposes=[asdict(p) | {"claims": list(p.claims)} for p in purposes],
                rate_per_minute=rate_per_minute,
                secret_hash=_digest(secret),
                registered_by=by,
                registered_at=now,
                window_minute=0,
                window_calls=0,
            )
        )
        return _client(await self._row(session, client_id)), secret

    async def list(self, session: AsyncSession) -> Sequence[Client]:
        rows = (await session.execute(select(self.table).order_by(self.table.c.client_id))).all()
        return [_client(row) for row in rows]

    async def revoke(self, session: AsyncSession, client_id: str, by: str, now: datetime) -> Client:
        """The client's secret stops working at once (its next call is 401)."""
        row = await self._row(session, client_id)
        if row is None:
            raise CheckRefused(404, "status_client_not_found", f"no client {client_id}", None)
        if row.revoked_at is None:
            await session.execute(
                update(self.table)
                .where(self.table.c.client_id == client_id)
                .values(revoked_at=now, revoked_by=by)
            )
        return _client(await self._row(session, client_id))

    async def authenticate(self, session: AsyncSession, client_id: str, secret: str) -> Client:
        """The client whose id and secret these are, not revoked; 401 otherwise (one answer
        for an unknown id, a wrong secret and a revoked client)."""
        row = await self._row(session, client_id) if len(client_id) <= 40 else None
        expected = row.secret_hash if row is not None else _NO_CLIENT
        if not hmac.compare_digest(expected, _digest(secret)) or row is None or row.revoked_at:
            raise CheckRefused(401, "client_credentials_invalid", "unknown client or wrong secret")
        return _client(row)

    async def count_call(self, session: AsyncSession, client: Client, now: datetime) -> int:
        """The client's calls in the current minute, this one included (one UPDATE)."""
        minute = int(now.timestamp()) // 60
        t = self.table
        same = t.c.window_minute == minute
        await session.execute(
            update(t)
            .where(t.c.client_id == client.client_id)
            .values(window_calls=case((same, t.c.window_calls + 1), else_=1), window_minute=minute)
        )
        calls = await session.scalar(
            select(t.c.window_calls).where(t.c.client_id == client.client_id)
        )
        return int(calls or 0)

    async def _row(self, session: AsyncSession, client_id: str) -> Any:
        query = select(self.table).where(self.table.c.client_id == client_id)
        return (await session.execute(query)).one_or_none()
