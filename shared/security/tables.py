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
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("sealed_at", DateTime(timezone=True), nullable=True),
    Column("sealed_reason", String(200), nullable=True),
    Column("unsealed_by", String(60), nullable=True),
    # The registrar's details the level above sees (N2013 art. 23).
    Column("full_name", String(60), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("trained_on", Date, nullable=True),
)
# The level above lists a unit's accounts.
Index("ix_security_account_unit", account.c.unit_tier, account.c.unit_code)


def create_security_tables(op: Any) -> None:
    """Create the accounts table (and its index) from an Alembic migration."""
    account.create(op.get_bind())


def drop_security_tables(op: Any) -> None:
    account.drop(op.get_bind())
