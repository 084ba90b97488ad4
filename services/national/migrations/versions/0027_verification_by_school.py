"""Each school's term verification checks by school and time: a unit's data quality reads its
schools' latest checks without scanning every campaign's schools.

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_verification_school_latest", "verification_school", ["school_code", "checked_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_verification_school_latest", table_name="verification_school")
