"""Graduation: the school's graduating lists and their lines.

Revision ID: 0008
Revises: 0007

Written by ``python -m shared.db.migrate --tier school --autogenerate``; portable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "school_graduation_batch",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("graduation_year", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("late_reason", sa.String(length=500), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("applied_count", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    with op.batch_alter_table("school_graduation_batch", schema=None) as batch_op:
        batch_op.create_index(
            "ix_school_graduation_batch_list", ["school_code", "submitted_at"], unique=False
        )

    op.create_table(
        "school_graduation_item",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["school_graduation_batch.batch_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("batch_id", "student_number"),
    )
    with op.batch_alter_table("school_graduation_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_school_graduation_item_student",
            ["school_code", "student_number", "status"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("school_graduation_item", schema=None) as batch_op:
        batch_op.drop_index("ix_school_graduation_item_student")

    op.drop_table("school_graduation_item")
    with op.batch_alter_table("school_graduation_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_school_graduation_batch_list")

    op.drop_table("school_graduation_batch")
