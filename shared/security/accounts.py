"""Accounts of the units an instance hosts: login, password change, dormancy, lockout, seeding.

The rules (N2025 art. 24; DOMAIN.md §6): passwords are changed regularly (a password older
than ``password_max_age_days`` gets no token until it is changed); an account unused for six
months (``dormant_after_days``) is sealed and only the level above unseals it; repeated
failed logins lock the account for a while. Checks happen when a token is issued: a request
with a token never reads this table (tokens are short-lived).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.federation.config import UnitRef
from shared.runtime.errors import DomainError
from shared.runtime.settings import ServiceSettings
from shared.security.passwords import (
    hash_password,
    hash_password_async,
    password_problem,
    verify_password_async,
)
from shared.security.principal import Principal, Role
from shared.security.tables import account

log = logging.getLogger(__name__)

# Verified when the username is unknown, so that the answer takes as long as a wrong password.
_DUMMY_HASH = hash_password("no such account, but take the time anyway")


class LoginRefused(DomainError):
    """401: unknown account or wrong password (never which of the two)."""

    status_code = 401


class AccountBlocked(DomainError):
    """403: the password is right or not asked, but the account may not log in now."""

    status_code = 403


@dataclass(frozen=True)
class AccountPolicy:
    password_max_age: timedelta
    dormant_after: timedelta
    lockout_threshold: int
    lockout: timedelta

    @classmethod
    def of(cls, settings: ServiceSettings) -> AccountPolicy:
        return cls(
            password_max_age=timedelta(days=settings.password_max_age_days),
            dormant_after=timedelta(days=settings.dormant_after_days),
            lockout_threshold=settings.lockout_threshold,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )


@dataclass(frozen=True)
class NewAccount:
    username: str
    unit: UnitRef
    roles: frozenset[Role]
    password: str
    full_name: str | None = None
    phone: str | None = None
    trained_on: date | None = None
    must_change_password: bool = True


def principal_of(row: Any) -> Principal:
    return Principal(
        username=row.username,
        unit_kind=row.unit_tier,
        unit_code=row.unit_code,
        roles=frozenset(Role(r) for r in row.roles.split(",") if r),
    )


async def get_account(session: AsyncSession, username: str) -> Any | None:
    return (
        await session.execute(select(account).where(account.c.username == username))
    ).one_or_none()


async def list_accounts(session: AsyncSession, unit: UnitRef) -> Sequence[Any]:
    query = (
        select(account)
        .where(account.c.unit_tier == unit.tier.value, account.c.unit_code == unit.code)
        .order_by(account.c.username)
    )
    return (await session.execute(query)).all()


async def seal_dormant(session: AsyncSession, policy: AccountPolicy, now: datetime) -> int:
    """Seal, in one statement, every open account unused since ``now - dormant_after``."""
    cutoff = now - policy.dormant_after
    result = await session.execute(
        update(account)
        .where(account.c.sealed_at.is_(None), account.c.last_active_at < cutoff)
        .values(
            sealed_at=now,
            sealed_reason=f"unused for {policy.dormant_after.days} days",
            tokens_revoked_at=datetime.now(UTC),  # wall clock, like the tokens (0027)
        )
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        log.info("sealed %d dormant accounts", count)
    return count


async def authenticate(
    session: AsyncSession, policy: AccountPolicy, username: str, password: str, now: datetime
) -> Principal:
    """Check a login; on success record it. The caller commits (failures are recorded too).

    Refusals: 401 ``invalid_credentials``; 403 ``account_sealed``, ``account_locked``,
    ``password_expired`` (change it at ``/api/v1/auth/password``)."""
    row = await _usable_account(session, policy, username, password, now)
    if row.must_change_password or aware(row.password_changed_at) + policy.password_max_age <= now:
        raise AccountBlocked(
            "the password has expired: change it at /api/v1/auth/password",
            rule="password_expired",
        )
    await session.execute(
        update(account).where(account.c.username == username).values(last_active_at=now)
    )
    return principal_of(row)


async def change_password(
    session: AsyncSession,
    policy: AccountPolicy,
    username: str,
    password: str,
    new_password: str,
    now: datetime,
) -> None:
    """Replace a password (the old one proves who asks). 422 ``weak_password``."""
    await _usable_account(session, policy, username, password, now)
    problem = password_problem(new_password, username)
    if problem is None and new_password == password:
        problem = "the new password must differ from the old one"
    if problem is not None:
        raise DomainError(problem, rule="weak_password")
    await session.execute(
        update(account)
        .where(account.c.username == username)
        .values(
            password_hash=await hash_password_async(new_password),
            password_changed_at=now,
            must_change_password=False,
            last_active_at=now,
        )
    )


async def seal(session: AsyncSession, username: str, by: str, reason: str, now: datetime) -> None:
    """The level above closes an account (e.g. the registrar left); its tokens are revoked
    everywhere within a revocation round (shared/security/revocation.py)."""
    await session.execute(
        update(account)
        .where(account.c.username == username)
        .values(
            sealed_at=now,
            sealed_reason=f"sealed by {by}: {reason}"[:200],
            tokens_revoked_at=datetime.now(UTC),  # wall clock, like the tokens (0027)
        )
    )


async def unseal(session: AsyncSession, username: str, by: str, now: datetime) -> None:
    """The level above reopens a sealed or locked account; its next login must set a new
    password."""
    await session.execute(
        update(account)
        .where(account.c.username == username)
        .values(
            sealed_at=None,
            sealed_reason=None,
            unsealed_by=by,
            locked_until=None,
            failed_logins=0,
            last_active_at=now,
            must_change_password=True,
        )
    )


async def create_account(session: AsyncSession, new: NewAccount, now: datetime) -> None:
    await session.execute(insert(account).values(**await _row(new, now)))


async def _usable_account(
    session: AsyncSession, policy: AccountPolicy, username: str, password: str, now: datetime
) -> Any:
    row = await get_account(session, username)
    if row is None:
        await verify_password_async(_DUMMY_HASH, password)
        raise LoginRefused("wrong username or password", rule="invalid_credentials")
    if row.sealed_at is None and aware(row.last_active_at) < now - policy.dormant_after:
        await seal_dormant(session, policy, now)
        row = await get_account(session, username)
        assert row is not None
    if row.sealed_at is not None:
        raise AccountBlocked(
            "the account is sealed (unused for six months, N2025 art. 24): the level above "
            "unseals it",
            rule="account_sealed",
        )
    if row.locked_until is not None and aware(row.locked_until) > now:
        raise AccountBlocked(
            f"too many failed logins: locked until {aware(row.locked_until).isoformat()}",
            rule="account_locked",
        )
    if not await verify_password_async(row.password_hash, password):
        await _count_failure(session, policy, row, now)
        raise LoginRefused("wrong username or password", rule="invalid_credentials")
    if row.failed_logins or row.locked_until is not None:
        await session.execute(
            update(account)
            .where(account.c.username == username)
            .values(failed_logins=0, locked_until=None)
        )
    return row


async def _count_failure(
    session: AsyncSession, policy: AccountPolicy, row: Any, now: datetime
) -> None:
    failures = row.failed_logins + 1
    values: dict[str, Any] = {"failed_logins": failures}
    if failures >= policy.lockout_threshold:
        values = {"failed_logins": 0, "locked_until": now + policy.lockout}
        values["tokens_revoked_at"] = datetime.now(UTC)  # its tokens go too (0027)
        log.warning("account locked after %d failed logins", failures)
    await session.execute(update(account).where(account.c.username == row.username).values(values))


# --- development accounts ------------------------------------------------------------------


def read_dev_accounts(path: Path) -> list[NewAccount]:
    """The accounts of a ``dev-credentials.json`` (written by ``python -m devtools``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        NewAccount(
            username=item["username"],
            unit=UnitRef.parse(item["unit"]),
            roles=frozenset(Role(r) for r in item["roles"]),
            password=item["password"],
            full_name=item.get("full_name"),
            must_change_password=False,
        )
        for item in data["accounts"]
    ]


async def seed_accounts(
    session: AsyncSession, accounts: Iterable[NewAccount], hosted: Iterable[UnitRef], now: datetime
) -> int:
    """Create or reset (development only) the given accounts of the hosted units."""
    units = set(hosted)
    mine = [a for a in accounts if a.unit in units]
    existing = set(
        (
            await session.execute(
                select(account.c.username).where(account.c.username.in_([a.username for a in mine]))
            )
        ).scalars()
    )
    for new in mine:
        values = await _row(new, now)
        if new.username in existing:
            del values["username"], values["created_at"]
            await session.execute(
                update(account)
                .where(account.c.username == new.username)
                .values(
                    **values, sealed_at=None, sealed_reason=None, locked_until=None, failed_logins=0
                )
            )
        else:
            await session.execute(insert(account).values(**values))
    return len(mine)


async def _row(new: NewAccount, now: datetime) -> dict[str, Any]:
    return {
        "username": new.username,
        "unit_tier": new.unit.tier.value,
        "unit_code": new.unit.code,
        "roles": ",".join(sorted(new.roles)),
        "password_hash": await hash_password_async(new.password),
        "password_changed_at": now,
        "must_change_password": new.must_change_password,
        "created_at": now,
        "last_active_at": now,
        "full_name": new.full_name,
        "phone": new.phone,
        "trained_on": new.trained_on,
    }


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they are stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
