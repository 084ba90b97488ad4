"""Alembic for every tier: one environment function, one upgrade entry point.

Each service keeps its revisions in ``services/<tier>/migrations`` and its ``env.py`` only calls
:func:`run_env` with its metadata. ``python -m shared.db.migrate --tier county`` upgrades the
database named by ``XUEJI_DATABASE_URL`` (the Kubernetes migration Job runs this).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from importlib import resources

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.list_versions import list_version_metadata
from shared.messaging.tables import kernel_metadata
from shared.security.tables import security_metadata


def alembic_config(tier: str, url: str) -> Config:
    config = Config()
    location = resources.files(f"services.{tier}").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(tier: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(tier, url), revision)


def run_env(service_metadata: MetaData) -> None:
    """The body of every service's ``env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    targets = [service_metadata, kernel_metadata, security_metadata, list_version_metadata]
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=targets, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=targets,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(online())


def autogenerate(tier: str, message: str) -> None:
    """Write the next revision of ``tier`` from its models (diffed against a scratch SQLite)."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/scratch.sqlite"
        config = alembic_config(tier, url)
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--tier", required=True, choices=["national", "province", "county", "school"]
    )
    parser.add_argument("--url", default=os.environ.get("XUEJI_DATABASE_URL"))
    parser.add_argument("--autogenerate", metavar="MESSAGE", help="write a new revision instead")
    args = parser.parse_args()
    if args.autogenerate:
        autogenerate(args.tier, args.autogenerate)
        return
    if not args.url:
        parser.error("--url or XUEJI_DATABASE_URL is required")
    upgrade(args.tier, args.url)


if __name__ == "__main__":
    main()
