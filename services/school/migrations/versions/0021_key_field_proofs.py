"""Key-field change proofs kept at the school, where the archive's section 2 links them
(N2013 arts. 7(二), 13; decision 0043).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_key_field_change_proof",
        sa.Column("change_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"], ["school_key_field_change.change_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("change_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("school_key_field_change_proof")
