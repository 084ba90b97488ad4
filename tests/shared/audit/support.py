"""Helpers of the audit tests: entries, and tampering the way an intruder with SQL would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from shared.audit.chain import Entry
from shared.db.engine import SessionFactory
from shared.security.principal import Role
from shared.security.testing import auth_headers

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def entry(n: int = 0, **overrides: object) -> Entry:
    fields: dict[str, object] = {
        "at": T0 + timedelta(seconds=n, microseconds=123),
        "actor": "registrar-1",
        "actor_unit": "school:4101020001",
        "actor_roles": "registrar",
        "client_ip": "10.1.2.3",
        "action": "read",
        "object_type": "student",
        "object_id": f"G41010220180307{n:04d}",
        "unit_kind": "school",
        "unit_code": "4101020001",
        "purpose": "核对学籍",
        "outcome": "ok",
        "route": "GET /api/v1/schools/{school_code}/students/{student_number}",
    }
    fields.update(overrides)
    return Entry(**fields)  # type: ignore[arg-type]


async def tamper(sessions: SessionFactory, *statements: str) -> None:
    """Run ``statements`` past the append-only triggers (an intruder with DDL rights)."""
    async with sessions() as session:
        dialect = session.bind.dialect.name
        if dialect == "postgresql":
            await session.execute(text("ALTER TABLE kernel_audit_entry DISABLE TRIGGER USER"))
        else:
            for verb in ("update", "delete"):
                await session.execute(
                    text(f"DROP TRIGGER IF EXISTS kernel_audit_append_only_{verb}")
                )
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()


@dataclass(frozen=True)
class Principal:
    """Who a test client acts as (it logs in with a token for this unit, roles and name)."""

    username: str
    unit_kind: str
    unit_code: str
    roles: frozenset[str]


def as_user(
    app: Any, principal: Principal | None, base_url: str = "http://test"
) -> httpx.AsyncClient:
    """A client whose requests carry a bearer token of ``principal`` (none: anonymous)."""
    headers: dict[str, str] = {}
    if principal is not None:
        unit = f"{principal.unit_kind}:{principal.unit_code}"
        roles = [Role(role) for role in principal.roles]
        headers = auth_headers(unit, *roles, username=principal.username)
    transport = httpx.ASGITransport(app=app, client=("10.20.30.40", 5151))
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
