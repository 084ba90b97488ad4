"""Transfers: transfers in (with their proofs), the sending school's tasks, class on the roster.

Revision ID: 0003
Revises: 0002

Written by ``python -m shared.db.migrate --tier school --autogenerate "transfers"`` and tidied
by hand: new tables with plain indexes, a nullable column SQLite adds in place. Portable
(SQLite and PostgreSQL; the partial unique index is spelled for both).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.add_column("school_student", sa.Column("class_name", sa.String(length=40), nullable=True))
    _create_transfer_in()
    _create_transfer_proof()
    _create_task()


def _create_transfer_in() -> None:
    op.create_table(
        "school_transfer_in",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("from_school", sa.String(length=12), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("class_name", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index(
        "ix_school_transfer_in_list", "school_transfer_in", ["school_code", "requested_at"]
    )
    op.create_index(
        "ix_school_transfer_in_class",
        "school_transfer_in",
        ["school_code", "status", "grade", "class_name"],
    )
    op.create_index(
        "uq_school_transfer_in_pending",
        "school_transfer_in",
        ["school_code", "student_number"],
        unique=True,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def _create_transfer_proof() -> None:
    op.create_table(
        "school_transfer_proof",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["school_transfer_in.transfer_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("transfer_id", "position"),
    )


def _create_task() -> None:
    op.create_table(
        "school_task",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_approximate", sa.Boolean(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("uq_school_task_step", "school_task", ["school_code", "step_id"], unique=True)
    op.create_index("ix_school_task_list", "school_task", ["school_code", "status", "opened_at"])
    op.create_index("ix_school_task_transfer", "school_task", ["school_code", "transfer_id"])


def downgrade() -> None:
    op.drop_table("school_task")
    op.drop_table("school_transfer_proof")
    op.drop_table("school_transfer_in")
    with op.batch_alter_table("school_student") as batch_op:
        batch_op.drop_column("class_name")
