"""Progressions into this school (升学): the request and each named student's outcome.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_progression_in",
        sa.Column("progression_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("from_school", sa.String(length=12), nullable=False),
        sa.Column("graduation_year", sa.SmallInteger(), nullable=True),
        sa.Column("named_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("progression_id"),
    )
    op.create_index(
        "ix_school_progression_in_list",
        "school_progression_in",
        ["school_code", "requested_at"],
    )
    op.create_table(
        "school_progression_in_item",
        sa.Column("progression_id", sa.String(length=36), nullable=False),
        sa.Column("named", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("article", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["progression_id"],
            ["school_progression_in.progression_id"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("progression_id", "named"),
    )


def downgrade() -> None:
    op.drop_table("school_progression_in_item")
    op.drop_index("ix_school_progression_in_list", table_name="school_progression_in")
    op.drop_table("school_progression_in")
