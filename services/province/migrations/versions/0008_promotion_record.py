"""The province's view of each year's batch promotion (LS 3(一)).

Revision ID: 0008
Revises: 0007

Written by ``python -m shared.db.migrate --tier province --autogenerate``; portable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promotion_record",
        sa.Column("school_year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("graduating_grade", sa.Integer(), nullable=False),
        sa.Column("promoted", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("school_year", "school_code"),
    )
    op.create_index("ix_promotion_record_province", "promotion_record", ["province", "school_year"])


def downgrade() -> None:
    op.drop_index("ix_promotion_record_province", table_name="promotion_record")
    op.drop_table("promotion_record")
