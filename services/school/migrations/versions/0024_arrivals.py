"""The school's arrivals: every student a transfer's or a cohort's completion enrolled here, so
that a completion re-sent after the student left again is not applied twice. The transfers in
already completed are its first rows (a cohort that arrived before has no record here to
start from).

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_arrival",
        sa.Column("school_code", sa.String(12), primary_key=True),
        sa.Column("subject_id", sa.String(36), primary_key=True),
        sa.Column("student_number", sa.String(19), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO school_arrival (school_code, subject_id, student_number, kind, arrived_at)"
        " SELECT school_code, transfer_id, student_number, 'transfer',"
        " COALESCE(settled_at, requested_at) FROM school_transfer_in WHERE status = 'completed'"
    )


def downgrade() -> None:
    op.drop_table("school_arrival")
