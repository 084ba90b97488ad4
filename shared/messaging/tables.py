"""The kernel's own tables, present in every tier's database: the outbox and the inbox.

They live in ``kernel_metadata`` so each service's Alembic environment can target
``[service metadata, kernel_metadata]`` and each service's first migration creates them with
:func:`create_kernel_tables`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from shared.db.types import AutoId

kernel_metadata = MetaData()


outbox = Table(
    "kernel_outbox",
    kernel_metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("message_type", String(120), nullable=False),
    Column("routing_key", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
)
# The relay's only lookups: unsent rows due now (partial on both databases), and pruning.
Index(
    "ix_kernel_outbox_unsent",
    outbox.c.next_attempt_at,
    outbox.c.id,
    sqlite_where=outbox.c.sent_at.is_(None),
    postgresql_where=outbox.c.sent_at.is_(None),
)
Index("ix_kernel_outbox_sent_at", outbox.c.sent_at)

inbox = Table(
    "kernel_inbox",
    kernel_metadata,
    # message_id leads the key: the consumer's lookup is "which of these ids are known", and a
    # key led by the (nearly constant) consumer name degrades to a scan of the consumer's rows.
    Column("message_id", String(36), primary_key=True),
    Column("consumer", String(120), primary_key=True),
    Column("message_type", String(120), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, index=True),
)


def create_kernel_tables(op: Any) -> None:
    """Create the kernel tables (and their indexes) from an Alembic migration."""
    bind = op.get_bind()
    for table in (outbox, inbox, probe):
        table.create(bind)


def drop_kernel_tables(op: Any) -> None:
    bind = op.get_bind()
    for table in (probe, inbox, outbox):
        table.drop(bind)


# Connectivity probes (shared/runtime/diagnostics.py): one row per ping this service sent.
probe = Table(
    "kernel_probe",
    kernel_metadata,
    Column("probe_id", String(36), primary_key=True),
    Column("source", String(40), nullable=False),
    Column("target", String(40), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("answered_by", String(60), nullable=True),
)
