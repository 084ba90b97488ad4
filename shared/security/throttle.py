"""The login throttle: a progressive delay per account and per client address, never a lock.

Decision 0026. Failed logins (and failed password checks of a password change) are counted
per key in the service's database, so every replica of a service sees the same counts:

- ``account:<username>``: failures for that username, whether or not the account exists (so
  that a throttled unknown name answers exactly like a throttled real one). It slows down only
  the addresses the account has **never** logged in from: a flood of wrong passwords from
  elsewhere does not keep the officer out at their own desk.
- ``address:<client address>``: failures from that address, for any username (password
  spraying).

After ``free`` failures of a key within the window, each further attempt must wait
``2 ** (failures - free)`` seconds after the last failure (1 s, 2 s, 4 s, … up to
``XUEJI_LOGIN_MAX_DELAY_SECONDS``); an attempt during the wait is answered 429 with
``Retry-After`` and costs no password hash. A success clears the account's count (the officer
is told of the failures, ``accounts.FailedLogins``) and remembers the address.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.runtime.errors import DomainError
from shared.runtime.settings import ServiceSettings
from shared.security.tables import login_address, login_throttle


class LoginThrottled(DomainError):
    """429: too many failed logins for this username or from this address; wait and retry.

    The same answer whether the account exists or not."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins: retry in {retry_after} s",
            rule="login_throttled",
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class ThrottlePolicy:
    free_account: int = 5
    free_address: int = 20
    max_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=24)

    @classmethod
    def of(cls, settings: ServiceSettings) -> ThrottlePolicy:
        return cls(
            free_account=settings.login_free_failures_account,
            free_address=settings.login_free_failures_address,
            max_delay=timedelta(seconds=settings.login_max_delay_seconds),
            window=timedelta(hours=settings.login_failure_window_hours),
        )

    def delay(self, failures: int, free: int) -> timedelta:
        """How long after the last failure the next attempt must wait."""
        if failures < free:
            return timedelta(0)
        exponent = min(failures - free, 30)  # 2**30 s is past any cap
        return min(timedelta(seconds=2**exponent), self.max_delay)


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in: the username given and the client's address."""

    username: str
    address: str

    @property
    def account_key(self) -> str:
        return f"account:{self.username[:100]}"  # a longer name is no account's anyway

    @property
    def address_key(self) -> str:
        return f"address:{self.address[:64]}"


async def check(
    session: AsyncSession, policy: ThrottlePolicy, attempt: Attempt, now: datetime
) -> None:
    """Raise :class:`LoginThrottled` if ``attempt`` must still wait."""
    known = await is_known_address(session, attempt)
    keys = [attempt.address_key] if known else [attempt.address_key, attempt.account_key]
    rows = (
        await session.execute(
            select(login_throttle).where(
                login_throttle.c.key.in_(keys),
                login_throttle.c.last_failure_at >= now - policy.window,
            )
        )
    ).all()
    wait = timedelta(0)
    for row in rows:
        free = policy.free_address if row.key == attempt.address_key else policy.free_account
        until = _aware(row.last_failure_at) + policy.delay(row.failures, free)
        wait = max(wait, until - now)
    if wait > timedelta(0):
        raise LoginThrottled(math.ceil(wait.total_seconds()))


async def record_failure(
    session: AsyncSession, policy: ThrottlePolicy, attempt: Attempt, now: datetime
) -> None:
    """Count a failure for the username and the address (one statement), and forget keys
    whose last failure left the window."""
    upsert = _FAILURE[session.get_bind().dialect.name]
    since = now - policy.window
    params = [
        {"key": key, "now": now, "since": since}
        for key in sorted((attempt.account_key, attempt.address_key))  # one lock order
    ]
    await session.execute(upsert, params)
    await session.execute(delete(login_throttle).where(login_throttle.c.last_failure_at < since))


async def record_success(session: AsyncSession, attempt: Attempt, now: datetime) -> None:
    """The password was right: the username's count restarts and the address is remembered."""
    await session.execute(delete(login_throttle).where(login_throttle.c.key == attempt.account_key))
    await session.execute(_REMEMBER[session.get_bind().dialect.name], [_remembered(attempt, now)])


async def is_known_address(session: AsyncSession, attempt: Attempt) -> bool:
    found = await session.execute(
        select(login_address.c.username).where(
            login_address.c.username == attempt.username,
            login_address.c.address == attempt.address[:64],
        )
    )
    return found.first() is not None


async def forget_account(session: AsyncSession, username: str) -> None:
    """The level above unseals an account: its count restarts."""
    await session.execute(
        delete(login_throttle).where(login_throttle.c.key == Attempt(username, "").account_key)
    )


async def waits(
    session: AsyncSession, policy: ThrottlePolicy, usernames: Sequence[str], now: datetime
) -> dict[str, datetime]:
    """Until when a login of each account from an unknown address must wait (set-based)."""
    keys = {Attempt(name, "").account_key: name for name in usernames}
    rows = (
        await session.execute(
            select(login_throttle).where(
                login_throttle.c.key.in_(list(keys)),
                login_throttle.c.last_failure_at >= now - policy.window,
            )
        )
    ).all()
    result = {}
    for row in rows:
        until = _aware(row.last_failure_at) + policy.delay(row.failures, policy.free_account)
        if until > now:
            result[keys[row.key]] = until
    return result


def _failure(insert: Any) -> Any:
    statement = insert(login_throttle).values(
        key=bindparam("key"), failures=1, last_failure_at=bindparam("now")
    )
    return statement.on_conflict_do_update(
        index_elements=[login_throttle.c.key],
        set_={
            "failures": case(
                (login_throttle.c.last_failure_at < bindparam("since"), 1),
                else_=login_throttle.c.failures + 1,
            ),
            "last_failure_at": statement.excluded.last_failure_at,
        },
    )


def _remember(insert: Any) -> Any:
    statement = insert(login_address).values(
        username=bindparam("username"),
        address=bindparam("address"),
        last_success_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=[login_address.c.username, login_address.c.address],
        set_={"last_success_at": statement.excluded.last_success_at},
    )


def _remembered(attempt: Attempt, now: datetime) -> dict[str, Any]:
    return {"username": attempt.username, "address": attempt.address[:64], "now": now}


# Built once per dialect (decision 0019).
_FAILURE = {"postgresql": _failure(postgresql_insert), "sqlite": _failure(sqlite_insert)}
_REMEMBER = {"postgresql": _remember(postgresql_insert), "sqlite": _remember(sqlite_insert)}


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they are stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
