"""The sending school's history list: who left, to where and when (decision 0043). Students
who left before this revision are not listed (their destination was not kept here); their
read-only backups at the province are unchanged.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_departure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("to_school", sa.String(length=12), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_school_departure_subject",
        "school_departure",
        ["school_code", "student_number", "subject_id"],
        unique=True,
    )
    op.create_index(
        "ix_school_departure_list", "school_departure", ["school_code", "left_on", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_school_departure_list", table_name="school_departure")
    op.drop_index("uq_school_departure_subject", table_name="school_departure")
    op.drop_table("school_departure")
