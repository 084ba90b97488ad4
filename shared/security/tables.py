"""The accounts table, present in every tier's database (like the kernel's tables).

Each instance keeps the accounts of the units it hosts. ``security_metadata`` is a target of
every service's Alembic environment; the tiers' migrations create it with
:func:`create_security_tables`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    false,
    inspect,
)

security_metadata = MetaData()

account = Table(
    "security_account",
    security_metadata,
    Column("username", String(60), primary_key=True),
    Column("unit_tier", String(10), nullable=False),
    Column("unit_code", String(12), nullable=False),
    Column("roles", String(80), nullable=False),  # comma-separated Role values
    Column("password_hash", String(200), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The last login, creation or unsealing: six months without one and the account is sealed.
    Column("last_active_at", DateTime(timezone=True), nullable=False),
    # Failed logins since the last success, told to the officer at the next one (decision 0026).
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("last_failed_login_at", DateTime(timezone=True), nullable=True),
    # No longer set (decision 0026 replaced the lockout by the login throttle); kept for the
    # migrations that created it.
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("sealed_at", DateTime(timezone=True), nullable=True),
    Column("sealed_reason", String(200), nullable=True),
    Column("unsealed_by", String(60), nullable=True),
    # The registrar's details the level above sees (N2013 art. 23).
    Column("full_name", String(60), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("trained_on", Date, nullable=True),
    # When the account's tokens were last revoked (sealed, locked; wall-clock UTC): tokens
    # issued until then are refused everywhere (shared/security/revocation.py).
    Column("tokens_revoked_at", DateTime(timezone=True), nullable=True),
)
# The level above lists a unit's accounts.
Index("ix_security_account_unit", account.c.unit_tier, account.c.unit_code)
# The revocation publisher reads the accounts revoked since its last round.
Index("ix_security_account_tokens_revoked_at", account.c.tokens_revoked_at)


# Failed logins per key (``account:<username>``, ``address:<ip>``) within the window: each
# further attempt waits (shared/security/throttle.py). Every replica of a service shares it.
login_throttle = Table(
    "security_login_throttle",
    security_metadata,
    Column("key", String(120), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
)
# Old keys are pruned by time.
Index("ix_security_login_throttle_last", login_throttle.c.last_failure_at)

# The addresses an account logged in from with its password: failures of others elsewhere
# never slow it down there.
login_address = Table(
    "security_login_address",
    security_metadata,
    Column("username", String(60), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("last_success_at", DateTime(timezone=True), nullable=False),
)


def create_security_tables(op: Any) -> None:
    """Create the accounts table (and its indexes) from an Alembic migration, as it is now;
    the migrations that came later (:func:`add_token_revocation`) then find nothing to do."""
    account.create(op.get_bind())


def add_token_revocation(op: Any) -> None:
    """Add ``tokens_revoked_at`` and its index (decision 0027) to an existing accounts table."""
    columns = {c["name"] for c in inspect(op.get_bind()).get_columns("security_account")}
    if "tokens_revoked_at" in columns:
        return
    op.add_column(
        "security_account", Column("tokens_revoked_at", DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_security_account_tokens_revoked_at", "security_account", ["tokens_revoked_at"]
    )


def drop_token_revocation(op: Any) -> None:
    op.drop_index("ix_security_account_tokens_revoked_at", table_name="security_account")
    with op.batch_alter_table("security_account") as batch:
        batch.drop_column("tokens_revoked_at")


def drop_security_tables(op: Any) -> None:
    account.drop(op.get_bind())


def create_login_throttle_tables(op: Any) -> None:
    """The login throttle's tables and the failed-login notice column (decision 0026).

    The accounts table of an older migration may already have the column: that migration
    creates the table from this module's current definition."""
    bind = op.get_bind()
    columns = {column["name"] for column in inspect(bind).get_columns(account.name)}
    if "last_failed_login_at" not in columns:
        op.add_column(account.name, Column("last_failed_login_at", DateTime(timezone=True)))
    login_throttle.create(bind)
    login_address.create(bind)


def drop_login_throttle_tables(op: Any) -> None:
    bind = op.get_bind()
    login_address.drop(bind)
    login_throttle.drop(bind)
    with op.batch_alter_table(account.name) as batch:
        batch.drop_column("last_failed_login_at")
