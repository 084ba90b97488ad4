"""Term re-verification: the campaigns a school is asked to confirm its roster in.

Revision ID: 0009
Revises: 0008

Written by ``python -m shared.db.migrate --tier school --autogenerate``; portable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "school_verification",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("term", sa.String(length=12), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.String(length=24), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attending", sa.Integer(), nullable=True),
        sa.Column("not_attending", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", "school_code"),
    )
    op.create_index(
        "ix_school_verification_list", "school_verification", ["school_code", "opened_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_school_verification_list", table_name="school_verification")
    op.drop_table("school_verification")
