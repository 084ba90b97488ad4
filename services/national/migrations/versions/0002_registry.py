"""The basic registry, its old numbers, the L-number serials and the dedup review queue.

Revision ID: 0002
Revises: 0001

Written by ``python -m shared.db.migrate --tier national --autogenerate "registry"`` and
tidied by hand: plain ``create_index`` (no batch mode needed for new tables), named foreign
keys. Portable: only String, Integer, Date and DateTime columns; the review sequence is
BIGINT identity on PostgreSQL and the rowid on SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ENTRY = "registry_entry.entry_id"


def upgrade() -> None:
    _create_registry_entry()
    _create_superseded_number()
    _create_temporary_serial()
    _create_dedup_review()


def downgrade() -> None:
    for table in (
        "dedup_review",
        "registry_temporary_serial",
        "registry_superseded_number",
        "registry_entry",
    ):
        op.drop_table(table)


def _basic_identity() -> list[sa.Column[object]]:
    return [
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=30), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
    ]


def _create_registry_entry() -> None:
    op.create_table(
        "registry_entry",
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        *_basic_identity(),
        sa.Column("identity_key", sa.String(length=120), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
        sa.UniqueConstraint("registration_id"),
        sa.UniqueConstraint("student_number"),
    )
    op.create_index(
        "uq_registry_entry_document", "registry_entry", ["id_number", "id_type"], unique=True
    )
    op.create_index("ix_registry_entry_identity_key", "registry_entry", ["identity_key"])
    op.create_index("ix_registry_entry_school", "registry_entry", ["school_code", "student_number"])


def _create_superseded_number() -> None:
    op.create_table(
        "registry_superseded_number",
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], [_ENTRY], name="fk_superseded_number_entry"),
        sa.PrimaryKeyConstraint("student_number"),
    )
    op.create_index(
        "ix_registry_superseded_number_entry_id", "registry_superseded_number", ["entry_id"]
    )


def _create_temporary_serial() -> None:
    op.create_table(
        "registry_temporary_serial",
        sa.Column("division_code", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], [_ENTRY], name="fk_temporary_serial_entry"),
        sa.PrimaryKeyConstraint("division_code", "birth_date", "serial"),
    )
    op.create_index(
        "ix_registry_temporary_serial_entry_id", "registry_temporary_serial", ["entry_id"]
    )


def _create_dedup_review() -> None:
    op.create_table(
        "dedup_review",
        sa.Column("seq", _Id, autoincrement=True, nullable=False),
        sa.Column("review_id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("matched_entry_id", sa.String(length=36), nullable=False),
        *_basic_identity(),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=True),
        sa.Column("decision_rule", sa.String(length=60), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["matched_entry_id"], [_ENTRY], name="fk_dedup_review_matched_entry"
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("review_id"),
    )
    op.create_index("ix_dedup_review_queue", "dedup_review", ["status", "province_code", "seq"])
    op.create_index("ix_dedup_review_document", "dedup_review", ["id_number", "id_type"])
    op.create_index("ix_dedup_review_registration_id", "dedup_review", ["registration_id"])
