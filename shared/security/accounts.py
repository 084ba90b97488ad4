"""Accounts of the units an instance hosts: login, password change, dormancy, seeding.

The rules (N2025 art. 24; DOMAIN.md §6): passwords are changed regularly (a password older
than ``password_max_age_days`` gets no token until it is changed); an account unused for six
months (``dormant_after_days``) is sealed and only the level above unseals it; repeated
failed logins slow further attempts down (throttle.py, decision 0026: a progressive delay,
never a lock anyone could set off), and the officer is told of them at the next login.
Checks happen when a token is issued: a request with a token never reads this table (tokens
are short-lived).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import CHINA
from shared.db.engine import SessionFactory
from shared.federation.config import UnitRef
from shared.rules import AccountRules, load_province_rules
from shared.runtime.errors import DomainError
from shared.runtime.settings import ServiceSettings
from shared.security import throttle
from shared.security.passwords import (
    hash_password,
    hash_password_async,
    password_problem,
    verify_password_async,
)
from shared.security.principal import Principal, Role
from shared.security.tables import account
from shared.security.throttle import Attempt, ThrottlePolicy

log = logging.getLogger(__name__)

# Verified when the username is unknown, so that the answer takes as long as a wrong password.
_DUMMY_HASH = hash_password("no such account, but take the time anyway")


class LoginRefused(DomainError):
    """401: unknown account or wrong password (never which of the two)."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("wrong username or password", rule="invalid_credentials")


class AccountBlocked(DomainError):
    """403: the password is right, but the account may not log in now."""

    status_code = 403


@dataclass(frozen=True)
class AccountPolicy:
    password_max_age: timedelta
    dormant_after: timedelta
    throttle: ThrottlePolicy

    @classmethod
    def of(cls, settings: ServiceSettings) -> AccountPolicy:
        return cls(
            password_max_age=timedelta(days=settings.password_max_age_days),
            dormant_after=timedelta(days=settings.dormant_after_days),
            throttle=ThrottlePolicy.of(settings),
        )


@dataclass(frozen=True)
class FailedLogins:
    """Failed logins of an account since its last successful one, told at the next."""

    count: int
    last_at: datetime

    def message(self) -> str:
        moment = self.last_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        return (
            f"自上次成功登录以来，您的账号有 {self.count} 次登录失败，最近一次在 {moment}"
            "（北京时间）。如非本人操作，请立即修改密码并报告上级单位。"
        )


@dataclass(frozen=True)
class Login:
    principal: Principal
    failed: FailedLogins | None


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
        trained=row.trained_on is not None,
    )


def as_trained_as_required(principal: Principal, federation_config: Path) -> Principal:
    """The principal a token states: an account without a training date counts as untrained
    only where the unit's province requires training (``[accounts] training_required``,
    default on; national's own accounts by the default, N2013 art. 23)."""
    if principal.trained:
        return principal
    required = (
        AccountRules().training_required
        if principal.unit_kind == "national"
        else load_province_rules(federation_config, principal.unit_code).accounts.training_required
    )
    return principal if required else replace(principal, trained=True)


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


async def list_accounts_of(
    session: AsyncSession, units: Sequence[UnitRef], limit: int, offset: int
) -> Sequence[Any]:
    """The accounts of ``units``, by unit and username: one query per tier among them (a
    province instance's counties and cities), on ``ix_security_account_unit``."""
    by_tier: dict[str, list[str]] = {}
    for unit in units:
        by_tier.setdefault(unit.tier.value, []).append(unit.code)
    if not by_tier:
        return []
    condition = or_(
        *(
            and_(account.c.unit_tier == tier, account.c.unit_code.in_(codes))
            for tier, codes in by_tier.items()
        )
    )
    query = (
        select(account)
        .where(condition)
        .order_by(account.c.unit_tier, account.c.unit_code, account.c.username)
        .limit(limit)
        .offset(offset)
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
    sessions: SessionFactory, policy: AccountPolicy, attempt: Attempt, password: str, now: datetime
) -> Login:
    """Check a login; on success record it (committed here, failures too).

    Refusals, in this order: 429 ``login_throttled`` (throttle.py), 503 ``login_busy``
    (passwords.py), 401 ``invalid_credentials`` (unknown account or wrong password: one
    answer); only to the right password 403 ``account_sealed`` or ``password_expired``
    (change it at ``/api/v1/auth/password``)."""
    async with _after_password(sessions, policy, attempt, password, now) as (session, row):
        if (
            row.must_change_password
            or aware(row.password_changed_at) + policy.password_max_age <= now
        ):
            raise AccountBlocked(
                "the password has expired: change it at /api/v1/auth/password",
                rule="password_expired",
            )
        failed = None
        if row.failed_logins and row.last_failed_login_at is not None:
            failed = FailedLogins(row.failed_logins, aware(row.last_failed_login_at))
        await session.execute(
            update(account)
            .where(account.c.username == attempt.username)
            .values(last_active_at=now, failed_logins=0, last_failed_login_at=None)
        )
    return Login(principal_of(row), failed)


async def change_password(
    sessions: SessionFactory,
    policy: AccountPolicy,
    attempt: Attempt,
    password: str,
    new_password: str,
    now: datetime,
) -> None:
    """Replace a password (the old one proves who asks; throttled like a login); committed
    here. 422 ``weak_password``."""
    username = attempt.username
    problem = password_problem(new_password, username)
    if problem is None and new_password == password:
        problem = "the new password must differ from the old one"
    async with _after_password(sessions, policy, attempt, password, now):
        if problem is not None:
            raise DomainError(problem, rule="weak_password")
    new_hash = await hash_password_async(new_password)  # no connection held meanwhile
    async with sessions() as session:
        await session.execute(
            update(account)
            .where(account.c.username == username)
            .values(
                password_hash=new_hash,
                password_changed_at=now,
                must_change_password=False,
                last_active_at=now,
            )
        )
        await session.commit()


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
            last_active_at=now,
            must_change_password=True,
        )
    )
    await throttle.forget_account(session, username)


async def create_account(session: AsyncSession, new: NewAccount, now: datetime) -> None:
    await session.execute(insert(account).values(**await _row(new, now)))


@asynccontextmanager
async def _after_password(
    sessions: SessionFactory, policy: AccountPolicy, attempt: Attempt, password: str, now: datetime
) -> AsyncIterator[tuple[AsyncSession, Any]]:
    """A session and the account whose password is ``password``, committed at the end (also
    when the block refuses). The same refusals, costs and writes for an unknown account as for
    a wrong password (no oracle). No connection is held while Argon2 runs: a login flood waits
    for hashing slots, never for the database the other requests need."""
    async with sessions() as session:
        await throttle.check(session, policy.throttle, attempt, now)
        row = await get_account(session, attempt.username)
    stored = row.password_hash if row is not None else _DUMMY_HASH
    right = await verify_password_async(stored, password)
    async with sessions() as session:
        try:
            if not right or row is None:
                await _count_failure(session, policy, attempt, now)
                raise LoginRefused()
            await throttle.record_success(session, attempt, now)
            yield session, await _unsealed(session, policy, row, now)
        finally:
            await session.commit()


async def _count_failure(
    session: AsyncSession, policy: AccountPolicy, attempt: Attempt, now: datetime
) -> None:
    await throttle.record_failure(session, policy.throttle, attempt, now)
    # no row for an unknown name: the same statement, nothing changed
    await session.execute(
        update(account)
        .where(account.c.username == attempt.username)
        .values(failed_logins=account.c.failed_logins + 1, last_failed_login_at=now)
    )
    log.info("failed login")


async def _unsealed(session: AsyncSession, policy: AccountPolicy, row: Any, now: datetime) -> Any:
    """``row`` as it is after sealing it if dormant; 403 ``account_sealed`` if sealed."""
    if row.sealed_at is None and aware(row.last_active_at) < now - policy.dormant_after:
        await seal_dormant(session, policy, now)
        row = await get_account(session, row.username)
        assert row is not None
    if row.sealed_at is not None:
        raise AccountBlocked(
            "the account is sealed (unused for six months): the level above unseals it",
            rule="account_sealed",
            article="N2025 art. 24",
        )
    if row.locked_until is not None and aware(row.locked_until) > now:
        # locked by the level above until then (``unseal`` reopens it at once)
        raise AccountBlocked(
            "the account is locked: wait, or ask the level above to unlock it",
            rule="account_locked",
        )
    return row


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
            trained_on=date.fromisoformat(item["trained_on"]) if item.get("trained_on") else None,
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
