"""Schools merged or closed (N2013 art. 9; decision 0043): national refuses a registration
batch approved for one afterwards (``school_closed``).

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_closure",
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("merger_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("to_school", sa.String(length=10), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_unit", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("school_code"),
    )


def downgrade() -> None:
    op.drop_table("school_closure")
