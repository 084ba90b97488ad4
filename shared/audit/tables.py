"""The audit tables, present in every tier's database (created by each tier's own migration).

They sit in :data:`shared.messaging.tables.kernel_metadata` beside the outbox and inbox, so
every service's Alembic environment knows them.

- ``kernel_audit_entry``: one row per audited request, ``seq`` 1, 2, 3 … without gaps;
  ``hash`` chains it to ``prev_hash`` (the previous entry's hash). Append-only: a trigger
  (:func:`create_audit_tables`) refuses UPDATE and DELETE on both databases.
- ``kernel_audit_head``: one row (``id`` 1), the last ``seq`` and ``hash``. Appending locks
  it (``SELECT … FOR UPDATE``), which serialises writers and keeps the chain from forking;
  verification compares it with the last entry, so a deleted tail is noticed.
- ``kernel_audit_pending``: entries written but not chained yet, when chaining is deferred
  (``XUEJI_AUDIT_CHAINING=deferred``, decision 0048): a request inserts its entry here, in its
  own transaction, without touching the head; the chainer (:mod:`shared.audit.chaining`) moves
  them into the chain moments later, in batches, in ``id`` order. Rows are never updated
  (a trigger refuses it); the chainer deletes them in the transaction that chains them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table

from shared.messaging.tables import kernel_metadata

GENESIS = "0" * 64

audit_entry = Table(
    "kernel_audit_entry",
    kernel_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(60), nullable=False),
    Column("actor_unit", String(40), nullable=False),
    Column("actor_roles", String(120), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("action", String(30), nullable=False),
    Column("object_type", String(40), nullable=False),
    Column("object_id", String(80), nullable=True),
    Column("unit_kind", String(10), nullable=True),
    Column("unit_code", String(12), nullable=True),
    Column("purpose", String(500), nullable=True),
    Column("outcome", String(120), nullable=False),
    Column("route", String(200), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
# The auditor's filters: a unit's subtree (code range) over time, an actor, an object.
Index("ix_kernel_audit_entry_unit", audit_entry.c.unit_code, audit_entry.c.at)
Index("ix_kernel_audit_entry_actor", audit_entry.c.actor, audit_entry.c.at)
Index("ix_kernel_audit_entry_object", audit_entry.c.object_id)
Index("ix_kernel_audit_entry_at", audit_entry.c.at)


def _entry_columns() -> list[Column[Any]]:
    """What an audited act records (``shared.audit.chain.Entry``), for the pending table."""
    return [
        Column(c.name, c.type, nullable=c.nullable)
        for c in audit_entry.columns
        if c.name not in ("seq", "prev_hash", "hash")
    ]


audit_pending = Table(
    "kernel_audit_pending",
    kernel_metadata,
    # BIGSERIAL on PostgreSQL, the rowid on SQLite: the order writes were given, not commits.
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    *_entry_columns(),
)

audit_head = Table(
    "kernel_audit_head",
    kernel_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Anchors other instances sent here (the level above keeps those of the units below it,
# shared/audit/anchors.py): an instance's chain head at a moment, signed with its key, so
# that a chain rewritten and recomputed after it is found by ``xueji-ops audit verify``.
audit_anchor = Table(
    "kernel_audit_anchor",
    kernel_metadata,
    Column("instance", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("anchored_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(80), nullable=False),
    Column("signature", String(100), nullable=False),
    Column("source_unit", String(40), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

APPEND_ONLY_TRIGGER = "kernel_audit_append_only"

_POSTGRES_APPEND_ONLY = (
    """
    CREATE FUNCTION kernel_audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'kernel_audit_entry is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER {APPEND_ONLY_TRIGGER}
    BEFORE UPDATE OR DELETE ON kernel_audit_entry
    FOR EACH ROW EXECUTE FUNCTION kernel_audit_refuse_change()
    """,
    f"""
    CREATE TRIGGER {APPEND_ONLY_TRIGGER}_truncate
    BEFORE TRUNCATE ON kernel_audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION kernel_audit_refuse_change()
    """,
)

PENDING_TRIGGER = "kernel_audit_pending_unchanged"

_POSTGRES_PENDING_UNCHANGED = (
    """
    CREATE FUNCTION kernel_audit_pending_refuse_update() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'kernel_audit_pending rows are never updated';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER {PENDING_TRIGGER}
    BEFORE UPDATE ON kernel_audit_pending
    FOR EACH ROW EXECUTE FUNCTION kernel_audit_pending_refuse_update()
    """,
)

_SQLITE_PENDING_UNCHANGED = (
    f"""
    CREATE TRIGGER {PENDING_TRIGGER}
    BEFORE UPDATE ON kernel_audit_pending
    BEGIN SELECT RAISE(ABORT, 'kernel_audit_pending rows are never updated'); END
    """,
)

_SQLITE_APPEND_ONLY = tuple(
    f"""
    CREATE TRIGGER {APPEND_ONLY_TRIGGER}_{verb.lower()}
    BEFORE {verb} ON kernel_audit_entry
    BEGIN SELECT RAISE(ABORT, 'kernel_audit_entry is append-only'); END
    """
    for verb in ("UPDATE", "DELETE")
)


def create_audit_tables(op: Any) -> None:
    """Create the audit tables, the genesis head and the append-only triggers (a migration)."""
    bind = op.get_bind()
    for table in (audit_entry, audit_head):
        table.create(bind)
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    statements = _POSTGRES_APPEND_ONLY if bind.dialect.name == "postgresql" else _SQLITE_APPEND_ONLY
    for statement in statements:
        op.execute(statement)


def drop_audit_tables(op: Any) -> None:
    bind = op.get_bind()
    for table in (audit_head, audit_entry):
        table.drop(bind)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kernel_audit_refuse_change()")


def create_anchor_table(op: Any) -> None:
    audit_anchor.create(op.get_bind())


def drop_anchor_table(op: Any) -> None:
    audit_anchor.drop(op.get_bind())


def create_pending_table(op: Any) -> None:
    """The entries written but not chained yet (decision 0048), with the trigger that refuses
    updating them (a migration)."""
    bind = op.get_bind()
    audit_pending.create(bind)
    postgres = bind.dialect.name == "postgresql"
    for statement in _POSTGRES_PENDING_UNCHANGED if postgres else _SQLITE_PENDING_UNCHANGED:
        op.execute(statement)


def drop_pending_table(op: Any) -> None:
    bind = op.get_bind()
    audit_pending.drop(bind)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kernel_audit_pending_refuse_update()")
