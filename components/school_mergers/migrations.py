"""The ``school_merger`` table for the hosting services' Alembic revisions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create_merger_table(op: Any) -> None:
    op.create_table(
        "school_merger",
        sa.Column("merger_id", sa.String(36), primary_key=True),
        sa.Column("authority_unit", sa.String(20), nullable=False),
        sa.Column("from_school", sa.String(10), nullable=False),
        sa.Column("to_school", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=True),
        sa.Column("batches_received", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("uq_school_merger_from", "school_merger", ["from_school"], unique=True)
    op.create_index(
        "ix_school_merger_authority", "school_merger", ["authority_unit", "requested_at"]
    )


def drop_merger_table(op: Any) -> None:
    op.drop_index("ix_school_merger_authority", table_name="school_merger")
    op.drop_index("uq_school_merger_from", table_name="school_merger")
    op.drop_table("school_merger")
