"""``python -m shared.security create-account``: an account for a unit, in the database of the
instance hosting it (production has no seeded accounts).

    python -m shared.security create-account --database-url URL --unit school:4101020001 \\
        --username li.registrar --role registrar [--role approver] \\
        [--full-name 李老师 --phone 138... --trained-on 2026-08-20]

It prints a one-time password: the first login must change it (``POST /api/v1/auth/password``).
The federation config (``--config``) checks that the unit exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import NATIONAL_CODE, Tier, UnitRef, load_federation
from shared.security import accounts
from shared.security.principal import Role


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m shared.security")
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-account", help="an account with a one-time password")
    create.add_argument("--database-url", default=os.environ.get("XUEJI_DATABASE_URL"))
    create.add_argument("--config", type=Path, default=Path("config/federation.toml"))
    create.add_argument("--unit", required=True, help="tier:code, e.g. school:4101020001")
    create.add_argument("--username", required=True)
    create.add_argument("--role", dest="roles", action="append", required=True,
                        choices=[r.value for r in Role])  # fmt: skip
    create.add_argument("--full-name")
    create.add_argument("--phone")
    create.add_argument("--trained-on", type=date.fromisoformat)
    return root


def _known(config: Path, unit: UnitRef) -> bool:
    federation = load_federation(config)
    return {
        Tier.NATIONAL: unit.code == NATIONAL_CODE,
        Tier.PROVINCE: unit.code in {p.code for p in federation.provinces},
        Tier.CITY: federation.city(unit.code) is not None,
        Tier.COUNTY: federation.county(unit.code) is not None,
        Tier.SCHOOL: federation.school(unit.code) is not None,
    }[unit.tier]


async def create_account(args: argparse.Namespace, out: TextIO) -> int:
    unit = UnitRef.parse(args.unit)
    if not _known(args.config, unit):
        print(f"no unit {unit} in {args.config}", file=sys.stderr)
        return 2
    if not args.database_url:
        print("pass --database-url (or set XUEJI_DATABASE_URL)", file=sys.stderr)
        return 2
    password = secrets.token_urlsafe(12)
    new = accounts.NewAccount(
        username=args.username,
        unit=unit,
        roles=frozenset(Role(r) for r in args.roles),
        password=password,
        full_name=args.full_name,
        phone=args.phone,
        trained_on=args.trained_on,
        must_change_password=True,
    )
    engine = make_engine(args.database_url)
    try:
        async with make_session_factory(engine)() as session:
            if await accounts.get_account(session, args.username) is not None:
                print(f"account {args.username} exists already", file=sys.stderr)
                return 1
            await accounts.create_account(session, new, datetime.now(UTC))
            await session.commit()
    finally:
        await engine.dispose()
    print(f"created {args.username} at {unit}; one-time password: {password}", file=out)
    print("the first login must change it: POST /api/v1/auth/password", file=out)
    return 0


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(create_account(args, out))


if __name__ == "__main__":
    sys.exit(main())
