"""School mergers and closures the county decided, with their reports (N2013 art. 9;
decision 0043).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_merger",
        sa.Column("merger_id", sa.String(36), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
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
    op.create_index("ix_school_merger_county", "school_merger", ["county_code", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_school_merger_county", table_name="school_merger")
    op.drop_index("uq_school_merger_from", table_name="school_merger")
    op.drop_table("school_merger")
