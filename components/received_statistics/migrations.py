"""The ``statistics_received`` table for the receiving services' Alembic revisions (the
county's and the province's; decision 0047)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create_received_table(op: Any) -> None:
    op.create_table(
        "statistics_received",
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        # the (unit, period) lookup reads this key
        sa.PrimaryKeyConstraint("unit", "period", "kind"),
    )


def drop_received_table(op: Any) -> None:
    op.drop_table("statistics_received")
