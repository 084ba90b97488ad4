"""The term transfer reports of province-direct and city-run schools (N2013 art. 18; decision
0034): one row per (county, term, school).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_term_report",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("term", sa.String(10), primary_key=True),
        sa.Column("school_code", sa.String(10), primary_key=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("count_in", sa.Integer(), nullable=False),
        sa.Column("count_out", sa.Integer(), nullable=False),
        sa.Column("transfers_in", sa.JSON(), nullable=False),
        sa.Column("transfers_out", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transfer_term_report")
