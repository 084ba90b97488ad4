"""The transfer saga: transfers, their steps, and the registry's active transfer.

Revision ID: 0003
Revises: 0002

Written by ``python -m shared.db.migrate --tier national --autogenerate "transfers"`` and
tidied by hand: plain ``create_index`` and ``add_column`` (new tables; a nullable column
SQLite adds in place), named foreign keys. Portable: String, Integer, Boolean, Date,
DateTime and JSON (a JSON column on PostgreSQL, text on SQLite).

``registry_entry.active_transfer_id`` has no foreign key on purpose: ``transfer`` refers to
the registry already, and a transfer claims the student before its row is written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_transfer()
    _create_transfer_step()
    op.add_column(
        "registry_entry", sa.Column("active_transfer_id", sa.String(length=36), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("registry_entry") as batch_op:
        batch_op.drop_column("active_transfer_id")
    op.drop_table("transfer_step")
    op.drop_table("transfer")


def _create_transfer() -> None:
    op.create_table(
        "transfer",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("from_school", sa.String(length=10), nullable=False),
        sa.Column("to_school", sa.String(length=10), nullable=False),
        sa.Column("from_province", sa.String(length=2), nullable=False),
        sa.Column("to_province", sa.String(length=2), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("proof_refs", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("closing_rule", sa.String(length=60), nullable=True),
        sa.Column("closing_reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archive_due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["registry_entry.entry_id"], name="fk_transfer_entry"
        ),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index("ix_transfer_entry_id", "transfer", ["entry_id"])
    op.create_index("ix_transfer_student", "transfer", ["student_number", "created_at"])


def _create_transfer_step() -> None:
    op.create_table(
        "transfer_step",
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("party_unit", sa.String(length=24), nullable=False),
        sa.Column("superior_unit", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_approximate", sa.Boolean(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_unit", sa.String(length=24), nullable=True),
        sa.Column("intervention", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfer.transfer_id"], name="fk_transfer_step_transfer"
        ),
        sa.PrimaryKeyConstraint("step_id"),
    )
    op.create_index("uq_transfer_step_seq", "transfer_step", ["transfer_id", "seq"], unique=True)
    op.create_index("ix_transfer_step_party", "transfer_step", ["party_unit", "state", "due_on"])
    op.create_index(
        "ix_transfer_step_superior", "transfer_step", ["superior_unit", "state", "due_on"]
    )
    op.create_index("ix_transfer_step_due", "transfer_step", ["state", "due_on"])
