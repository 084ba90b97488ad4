"""Duplicate admission resolutions (LS 2(三)).

Revision ID: 0010
Revises: 0009

Written by ``python -m shared.db.migrate --tier national --autogenerate "duplicates"``;
plain ``create_index``; portable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duplicate_resolution",
        sa.Column("resolution_id", sa.String(length=36), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("real_school", sa.String(length=10), nullable=False),
        sa.Column("other_school", sa.String(length=10), nullable=True),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("proof_refs", sa.JSON(), nullable=False),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("closing_reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resolution_id"),
    )
    op.create_index(
        "ix_duplicate_resolution_student", "duplicate_resolution", ["student_number", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_duplicate_resolution_student", table_name="duplicate_resolution")
    op.drop_table("duplicate_resolution")
