"""Duplicate admission resolutions (LS 2(三)) and their attendance proofs.

Revision ID: 0010
Revises: 0009

Written by ``python -m shared.db.migrate --tier school --autogenerate``; portable.
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
        "school_duplicate_resolution",
        sa.Column("resolution_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("role", sa.String(length=6), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("other_school", sa.String(length=12), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resolution_id", "school_code"),
    )
    op.create_index(
        "ix_school_duplicate_resolution_registration",
        "school_duplicate_resolution",
        ["registration_id", "status"],
    )
    op.create_table(
        "school_duplicate_proof",
        sa.Column("resolution_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("resolution_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("school_duplicate_proof")
    op.drop_index(
        "ix_school_duplicate_resolution_registration", table_name="school_duplicate_resolution"
    )
    op.drop_table("school_duplicate_resolution")
