"""The figures national and the province send the county (decision 0047): one row per
(unit, period, kind), replaced by a re-delivery or a re-run.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table("statistics_received")
