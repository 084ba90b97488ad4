"""The figures national sends the province, and the days the province sent its counties
their non-basic figures (decision 0047).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from components.received_statistics.migrations import create_received_table, drop_received_table

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_received_table(op)
    op.create_table(
        "statistics_published",
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit", "period"),
    )


def downgrade() -> None:
    op.drop_table("statistics_published")
    drop_received_table(op)
